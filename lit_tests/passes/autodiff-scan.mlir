// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=W,U,x0}' --split-input-file | filecheck %s

// Backpropagation through time: the gradient of a forward scan is a scan in
// reverse whose body differentiates the step at the stored state before
// it. The scanned input U gets one gradient per step, carried by a stored
// adjoint scan; the weight W the body reads gets a sum over the steps,
// carried by a virtual one. The initial state's gradient is the adjoint
// after the last (reverse) step, at position 0.
func.func @main(%W: tensor<2x2xf32> {fuse.name = "W"}, %U: tensor<2x3xf32> {fuse.name = "U"},
                %x0: tensor<2xf32> {fuse.name = "x0"}) -> (tensor<f32> {fuse.name = "L"}) {
  %X = fuse.scan steps 3 axis 1 in_axes [1] tensors ["X"] (%x0 : tensor<2xf32>)
      over (%U : tensor<2x3xf32>) -> tensor<2x4xf32> {
  ^bb0(%x: tensor<2xf32>, %u: tensor<2xf32>):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<2x2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    fuse.yield %1 : tensor<2xf32>
  }
  %L = fuse.einsum "ab->" sum (%X) : (tensor<2x4xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK-SAME:    tensor<2x2xf32> {fuse.name = "grad.W"}, tensor<2x3xf32> {fuse.name = "grad.U"}, tensor<2xf32> {fuse.name = "grad.x0"}
// CHECK:         %[[G:.*]] = fuse.select "ab,,->ab" (%X,
// The cotangent of the last state starts the adjoint; the states before
// each step (positions 0..2) and their own cotangents are scanned.
// CHECK-NEXT:    %[[LAST:.*]] = fuse.window %[[G]] affine_map<(d0) -> (d0, 3)> : tensor<2x4xf32> -> tensor<2xf32>
// CHECK-NEXT:    %[[BEFORE:.*]] = fuse.window %X affine_map<(d0, d1) -> (d0, d1)> : tensor<2x4xf32> -> tensor<2x3xf32>
// CHECK-NEXT:    %[[OWN:.*]] = fuse.window %[[G]] affine_map<(d0, d1) -> (d0, d1)> : tensor<2x4xf32> -> tensor<2x3xf32>
// CHECK:         %[[A:.*]], %[[DU:.*]] = fuse.scan reverse steps 3 axis 0 in_axes [1, 1, 1] tensors ["adjoint.X", "adjoint.scanned.0"] (%[[LAST]], %{{.*}} : tensor<2xf32>, tensor<2xf32>) over (%[[BEFORE]], %[[OWN]], %U : {{.*}}) -> tensor<4x2xf32>, tensor<4x2xf32> {
// CHECK-NEXT:    ^{{.*}}(%[[ADJ:.*]]: tensor<2xf32>, %{{.*}}: tensor<2xf32>, %[[STATE:.*]]: tensor<2xf32>, %[[MINE:.*]]: tensor<2xf32>, %{{.*}}: tensor<2xf32>):
// CHECK:           %[[BACK:.*]] = fuse.einsum "a,ab->b" sum (%[[ADJ]], %W)
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.binary add "a,a->a" (%[[BACK]], %[[MINE]])
// CHECK-NEXT:      fuse.yield %[[NEXT]], %[[ADJ]] : tensor<2xf32>, tensor<2xf32>
// CHECK:         %[[GX0:.*]] = fuse.window %[[A]] affine_map<(d0) -> (0, d0)> : tensor<4x2xf32> -> tensor<2xf32>
// CHECK-NEXT:    %[[GU:.*]] = fuse.window %[[DU]] affine_map<(d0, d1) -> (d1, d0)> : tensor<4x2xf32> -> tensor<2x3xf32>
// CHECK:         %{{.*}}, %[[GW:.*]] = fuse.scan virtual reverse steps 3 in_axes [1, 1, 1] tensors ["adjoint.X", "adjoint.read.0"]
// CHECK:           %[[STEP:.*]] = fuse.einsum "a,b->ab" sum
// CHECK:           %[[SUM:.*]] = fuse.binary add "ab,ab->ab" (%{{.*}}, %[[STEP]])
// CHECK-NEXT:      fuse.yield %{{.*}}, %[[SUM]] : tensor<2xf32>, tensor<2x2xf32>
// CHECK:         func.return %L, %[[GW]], %[[GU]], %[[GX0]]

// -----

// A virtual scan keeps no states: its gradient runs the recurrence again as
// a stored scan (axis 0) for the adjoint to read, and the cotangent of the
// result is that of the last state.
func.func @main(%W: tensor<2x2xf32> {fuse.name = "W"}, %U: tensor<2x3xf32> {fuse.name = "U"},
                %x0: tensor<2xf32> {fuse.name = "x0"}) -> (tensor<f32> {fuse.name = "L"}) {
  %X = fuse.scan virtual steps 3 in_axes [1] tensors ["X"] (%x0 : tensor<2xf32>)
      over (%U : tensor<2x3xf32>) -> tensor<2xf32> {
  ^bb0(%x: tensor<2xf32>, %u: tensor<2xf32>):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<2x2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %2 = fuse.unary tanh %1 : tensor<2xf32>
    fuse.yield %2 : tensor<2xf32>
  }
  %L = fuse.einsum "a->" sum (%X) : (tensor<2xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.select "a,,->a" (%X,
// CHECK-NEXT:    %[[STORED:.*]] = fuse.scan steps 3 axis 0 in_axes [1] tensors ["X"] (%x0 : tensor<2xf32>) over (%U : tensor<2x3xf32>) -> tensor<4x2xf32>
// CHECK:         %[[BEFORE:.*]] = fuse.window %[[STORED]] affine_map<(d0, d1) -> (d0, d1)> : tensor<4x2xf32> -> tensor<3x2xf32>
// CHECK:         fuse.scan reverse steps 3 axis 0 in_axes [0, 1] tensors ["adjoint.X", "adjoint.scanned.0"] (%[[G]], %{{.*}} : tensor<2xf32>, tensor<2xf32>) over (%[[BEFORE]], %U : tensor<3x2xf32>, tensor<2x3xf32>)
// CHECK:         fuse.scan virtual reverse steps 3 in_axes [0, 1] tensors ["adjoint.X", "adjoint.read.0"] (%[[G]], %{{.*}} : tensor<2xf32>, tensor<2x2xf32>)
