// fuse.scan (recurrences along one index): pretty and generic round trips,
// stored and virtual, forward and reverse.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s

// CHECK-LABEL: func.func @main
func.func @main(%W: tensor<4x4xf32>, %U: tensor<4x6xf32>, %x0: tensor<4xf32>) -> (tensor<4x7xf32>, tensor<4xf32>) {
  // CHECK:      %{{.*}} = fuse.scan steps 6 axis 1 in_axes [1] tensors ["X"] (%{{.*}} : tensor<4xf32>) over (%{{.*}} : tensor<4x6xf32>) -> tensor<4x7xf32> {
  // CHECK-NEXT: ^{{.*}}(%[[X:.*]]: tensor<4xf32>, %[[U:.*]]: tensor<4xf32>):
  // CHECK-NEXT:   %[[M:.*]] = fuse.einsum "ab,b->a" sum (%{{.*}}, %[[X]])
  // CHECK-NEXT:   %[[A:.*]] = fuse.binary add "a,a->a" (%[[M]], %[[U]])
  // CHECK-NEXT:   %[[S:.*]] = fuse.unary sig %[[A]] : tensor<4xf32>
  // CHECK-NEXT:   fuse.yield %[[S]] : tensor<4xf32>
  %h = fuse.scan steps 6 axis 1 in_axes [1] tensors ["X"] (%x0 : tensor<4xf32>) over (%U : tensor<4x6xf32>) -> tensor<4x7xf32> {
  ^bb0(%x: tensor<4xf32>, %u: tensor<4xf32>):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %2 = fuse.unary sig %1 : tensor<4xf32>
    fuse.yield %2 : tensor<4xf32>
  }
  // CHECK: %{{.*}} = fuse.scan virtual reverse steps 6 in_axes [0] tensors ["X"] (%{{.*}} : tensor<4xf32>) over (%{{.*}} : tensor<6x4xf32>) -> tensor<4xf32> {
  %ut = fuse.einsum "ab->ba" sum (%U) : (tensor<4x6xf32>) -> tensor<6x4xf32>
  %v = fuse.scan virtual reverse steps 6 in_axes [0] tensors ["X"] (%x0 : tensor<4xf32>) over (%ut : tensor<6x4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>, %u: tensor<4xf32>):
    %0 = fuse.binary add "a,a->a" (%x, %u) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    fuse.yield %0 : tensor<4xf32>
  }
  func.return %h, %v : tensor<4x7xf32>, tensor<4xf32>
}

// A scan without scanned inputs (its steps come from its attribute alone);
// its stored result holds the initial state and the 5 steps.
// CHECK-LABEL: func.func @powers
func.func @powers(%x0: tensor<3xf32>) -> tensor<6x3xf32> {
  // CHECK: fuse.scan steps 5 axis 0 in_axes [] tensors ["P"] (%{{.*}} : tensor<3xf32>) -> tensor<6x3xf32> {
  %p = fuse.scan steps 5 axis 0 in_axes [] tensors ["P"] (%x0 : tensor<3xf32>) -> tensor<6x3xf32> {
  ^bb0(%x: tensor<3xf32>):
    %0 = fuse.binary add "a,a->a" (%x, %x) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    fuse.yield %0 : tensor<3xf32>
  }
  func.return %p : tensor<6x3xf32>
}
