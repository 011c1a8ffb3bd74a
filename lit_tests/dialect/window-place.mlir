// fuse.window and fuse.place (index arithmetic at the dataflow level):
// pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @main
func.func @main(%image: tensor<8x3xf32>, %features: tensor<7x5xf32>) -> (tensor<6x3x3xf32>, tensor<4x3xf32>, tensor<8x5xf32>) {
  // CHECK: %{{.*}} = fuse.window %{{.*}} affine_map<(d0, d1, d2) -> ((d0 + d1), d2)> : tensor<8x3xf32> -> tensor<6x3x3xf32>
  %w = fuse.window %image affine_map<(d0, d1, d2) -> (d0 + d1, d2)> : tensor<8x3xf32> -> tensor<6x3x3xf32>
  // CHECK: %{{.*}} = fuse.place %{{.*}} affine_map<(d0, d1) -> ((d0 floordiv 2), (d1 floordiv 2))> max : tensor<7x5xf32> -> tensor<4x3xf32>
  %p = fuse.place %features affine_map<(d0, d1) -> (d0 floordiv 2, d1 floordiv 2)> max : tensor<7x5xf32> -> tensor<4x3xf32>
  // CHECK: %{{.*}} = fuse.place %{{.*}} affine_map<(d0, d1) -> ((d0 + 1), d1)> sum : tensor<7x5xf32> -> tensor<8x5xf32>
  %s = fuse.place %features affine_map<(d0, d1) -> (d0 + 1, d1)> sum : tensor<7x5xf32> -> tensor<8x5xf32>
  func.return %w, %p, %s : tensor<6x3x3xf32>, tensor<4x3xf32>, tensor<8x5xf32>
}

// GENERIC: "fuse.window"(%image) <{map = affine_map<(d0, d1, d2) -> ((d0 + d1), d2)>}> : (tensor<8x3xf32>) -> tensor<6x3x3xf32>
// GENERIC: "fuse.place"(%features) <{map = affine_map<(d0, d1) -> ((d0 floordiv 2), (d1 floordiv 2))>, kind = "max"}> : (tensor<7x5xf32>) -> tensor<4x3xf32>
