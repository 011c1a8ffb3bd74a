// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{progress=true}' | filecheck %s
// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo' | filecheck %s --check-prefix=OFF
// With `progress`, each loop body reports its step to a side-effecting
// @fuse.progress placeholder, labelled with the loop's tensors: a fixpoint
// its new iteration count, change and converged flag, a scan its new step
// count and (fuse.steps) its number of steps. Without it, nothing is emitted.

// OFF-NOT: custom_call

// CHECK-LABEL: func.func @closure
// CHECK:         stablehlo.while
// CHECK:         } do {
// CHECK:           %[[CHANGE:.*]] = stablehlo.reduce
// CHECK:           %[[DONE:.*]] = stablehlo.compare LE, %[[CHANGE]]
// CHECK-NEXT:      %[[ONE:.*]] = stablehlo.constant dense<1> : tensor<i32>
// CHECK-NEXT:      %[[COUNT:.*]] = stablehlo.add %{{.*}}, %[[ONE]] : tensor<i32>
// CHECK-NEXT:      %{{.*}} = stablehlo.custom_call @fuse.progress(%[[COUNT]], %[[CHANGE]], %[[DONE]]) {has_side_effect = true, backend_config = "fixpoint Path"} : (tensor<i32>, tensor<f32>, tensor<i1>) -> tensor<i32>
// CHECK-NEXT:      stablehlo.return %[[COUNT]], %[[DONE]], %[[CHANGE]]
func.func @closure(%E: tensor<4x4xf32> {fuse.name = "Edge"}) -> (tensor<4x4xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<4x4xf32> {
  ^bb0(%path: tensor<4x4xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%E, %path) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %s = fuse.binary add "xz,xz->xz" (%E, %j) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %r = fuse.unary step %s : tensor<4x4xf32>
    fuse.yield %r : tensor<4x4xf32>
  }
  func.return %p : tensor<4x4xf32>
}

// CHECK-LABEL: func.func @recurrence
// CHECK:         stablehlo.while
// CHECK:         } do {
// CHECK:           stablehlo.dynamic_update_slice
// CHECK:           %[[STEP:.*]] = stablehlo.add %{{.*}}, %{{.*}} : tensor<i32>
// CHECK-NEXT:      %{{.*}} = stablehlo.custom_call @fuse.progress(%[[STEP]]) {fuse.steps = 3 : i64, has_side_effect = true, backend_config = "scan X"} : (tensor<i32>) -> tensor<i32>
// CHECK-NEXT:      stablehlo.return %[[STEP]]
func.func @recurrence(%W: tensor<2x2xf32> {fuse.name = "W"}, %U: tensor<2x3xf32> {fuse.name = "U"},
                      %x0: tensor<2xf32> {fuse.name = "x0"}) -> (tensor<2x4xf32> {fuse.name = "X"}) {
  %X = fuse.scan steps 3 axis 1 in_axes [1] tensors ["X"] (%x0 : tensor<2xf32>)
      over (%U : tensor<2x3xf32>) -> tensor<2x4xf32> {
  ^bb0(%x: tensor<2xf32>, %u: tensor<2xf32>):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<2x2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    fuse.yield %1 : tensor<2xf32>
  }
  func.return %X : tensor<2x4xf32>
}
