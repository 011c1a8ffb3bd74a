// fuse.conv and fuse.pool (native convolution and pooling): pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s

// CHECK-LABEL: func.func @main
func.func @main(%image: tensor<8x8x3xf32>, %filter: tensor<3x3x3x4xf32>, %batch: tensor<2x5x9xf32>, %filter1: tensor<5x2x4xf32>, %line: tensor<7xf32>, %k: tensor<2xf32>, %grouped: tensor<2x9x2x3xf32>, %gfilter: tensor<3x2x3x4xf32>, %dw: tensor<3x3x3xf32>)
    -> (tensor<3x3x4xf32>, tensor<2x3x4xf32>, tensor<2xf32>, tensor<3xf32>) {
  // CHECK-NEXT: %{{.*}} = fuse.conv %{{.*}}, %{{.*}} "01f,01io->01f" strides [1, 1] dilations [1, 1] : (tensor<8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<6x6x4xf32>
  %y = fuse.conv %image, %filter "01f,01io->01f" strides [1, 1] dilations [1, 1] : (tensor<8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<6x6x4xf32>
  // CHECK-NEXT: %{{.*}} = fuse.pool max %{{.*}} window [2, 2, 1] strides [2, 2, 1] : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
  %p = fuse.pool max %y window [2, 2, 1] strides [2, 2, 1] : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
  // Batch first, features on the input's dimension 1, a strided and dilated window,
  // an output laid out differently from the input.
  // CHECK-NEXT: %{{.*}} = fuse.conv %{{.*}}, %{{.*}} "bf0,i0o->b0f" strides [2] dilations [2] : (tensor<2x5x9xf32>, tensor<5x2x4xf32>) -> tensor<2x4x4xf32>
  %c = fuse.conv %batch, %filter1 "bf0,i0o->b0f" strides [2] dilations [2] : (tensor<2x5x9xf32>, tensor<5x2x4xf32>) -> tensor<2x4x4xf32>
  // CHECK-NEXT: %{{.*}} = fuse.pool mean %{{.*}} window [1, 2, 1] strides [1, 1, 1] : tensor<2x4x4xf32> -> tensor<2x3x4xf32>
  %m = fuse.pool mean %c window [1, 2, 1] strides [1, 1, 1] : tensor<2x4x4xf32> -> tensor<2x3x4xf32>
  // A single-channel 1-d convolution.
  // CHECK-NEXT: %{{.*}} = fuse.conv %{{.*}}, %{{.*}} "0,0->0" strides [3] dilations [1] : (tensor<7xf32>, tensor<2xf32>) -> tensor<2xf32>
  %d = fuse.conv %line, %k "0,0->0" strides [3] dilations [1] : (tensor<7xf32>, tensor<2xf32>) -> tensor<2xf32>
  // Grouped: 2 groups of 3 input and 4 output features; depthwise: one group per channel.
  // CHECK-NEXT: %{{.*}} = fuse.conv %{{.*}}, %{{.*}} "b0gf,0gio->b0gf" strides [1] dilations [1] : (tensor<2x9x2x3xf32>, tensor<3x2x3x4xf32>) -> tensor<2x7x2x4xf32>
  %g = fuse.conv %grouped, %gfilter "b0gf,0gio->b0gf" strides [1] dilations [1] : (tensor<2x9x2x3xf32>, tensor<3x2x3x4xf32>) -> tensor<2x7x2x4xf32>
  // CHECK-NEXT: %{{.*}} = fuse.conv %{{.*}}, %{{.*}} "01g,01g->g01" strides [1, 1] dilations [1, 1] : (tensor<8x8x3xf32>, tensor<3x3x3xf32>) -> tensor<3x6x6xf32>
  %w = fuse.conv %image, %dw "01g,01g->g01" strides [1, 1] dilations [1, 1] : (tensor<8x8x3xf32>, tensor<3x3x3xf32>) -> tensor<3x6x6xf32>
  // A sum pool whose last window is cut off by the end (7 = 3 + 3 + 1).
  // CHECK-NEXT: %{{.*}} = fuse.pool sum %{{.*}} window [3] strides [3] : tensor<7xf32> -> tensor<3xf32>
  %s = fuse.pool sum %line window [3] strides [3] : tensor<7xf32> -> tensor<3xf32>
  func.return %p, %m, %d, %s : tensor<3x3x4xf32>, tensor<2x3x4xf32>, tensor<2xf32>, tensor<3xf32>
}
