// fuse-recognize-convolutions: einsums over windows become fuse.conv, floor-division
// places become fuse.pool; everything else stays on the generic path.
// RUN: fuse-opt %s -p fuse-recognize-convolutions | filecheck %s

// The paper's CNN and pooling equations, as the front end emits them:
//   Features[x, y, o] = relu(Filter[dx, dy, i, o] Image[x+dx, y+dy, i])
//   Pooled[x/2, y/2, o] max= Features[x, y, o]
// CHECK-LABEL: func.func @cnn
// CHECK-NEXT: %[[C:.*]] = fuse.conv %Image, %Filter "01f,01io->f01" strides [1, 1] dilations [1, 1] : (tensor<8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<4x6x6xf32>
// CHECK-NEXT: %[[R:.*]] = fuse.unary relu %[[C]] : tensor<4x6x6xf32>
// CHECK-NEXT: %[[F:.*]] = fuse.einsum "def->efd" sum (%[[R]])
// CHECK-NEXT: %Pooled = fuse.pool max %[[F]] window [2, 2, 1] strides [2, 2, 1] : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
// CHECK-NOT: fuse.window
// CHECK-NOT: fuse.place
func.func @cnn(%Filter: tensor<3x3x3x4xf32>, %Image: tensor<8x8x3xf32>) -> tensor<3x3x4xf32> {
  %0 = fuse.window %Image affine_map<(d0, d1, d2, d3, d4) -> ((d0 + d1), (d2 + d3), d4)> : tensor<8x8x3xf32> -> tensor<6x3x6x3x3xf32>
  %1 = fuse.einsum "abcd,eafbc->def" sum (%Filter, %0) : (tensor<3x3x3x4xf32>, tensor<6x3x6x3x3xf32>) -> tensor<4x6x6xf32>
  %2 = fuse.unary relu %1 : tensor<4x6x6xf32>
  %Features = fuse.einsum "def->efd" sum (%2) : (tensor<4x6x6xf32>) -> tensor<6x6x4xf32>
  %Pooled = fuse.place %Features affine_map<(d0, d1, d2) -> ((d0 floordiv 2), (d1 floordiv 2), d2)> max : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
  func.return %Pooled : tensor<3x3x4xf32>
}

// Stride (B[b, 2*x+dx, i]), dilation (X[x + 2*dx]), an offset read through a crop
// (X[x+dx+1]), padding by hand (X[x+dx-1]: the convolution, then a place), and a
// mean pool whose last window is cut off (Avg[x/4] avg= X[x], 9 = 4 + 4 + 1).
// CHECK-LABEL: func.func @variants
// CHECK-NEXT: %Strided = fuse.conv %B, %K "b0f,0io->fb0" strides [2] dilations [1] : (tensor<2x9x3xf32>, tensor<3x3x4xf32>) -> tensor<4x2x4xf32>
// CHECK-NEXT: %Dilated = fuse.conv %X, %K1 "0,0->0" strides [1] dilations [2] : (tensor<9xf32>, tensor<3xf32>) -> tensor<5xf32>
// CHECK-NEXT: %[[CROP:.*]] = fuse.window %X affine_map<(d0) -> ((d0 + 1))> : tensor<9xf32> -> tensor<8xf32>
// CHECK-NEXT: %{{.*}} = fuse.conv %[[CROP]], %K1 "0,0->0" strides [1] dilations [1] : (tensor<8xf32>, tensor<3xf32>) -> tensor<6xf32>
// CHECK-NEXT: %[[P:.*]] = fuse.conv %X, %K1 "0,0->0" strides [1] dilations [1] : (tensor<9xf32>, tensor<3xf32>) -> tensor<7xf32>
// CHECK-NEXT: %Padded = fuse.place %[[P]] affine_map<(d0) -> ((d0 + 1))> sum : tensor<7xf32> -> tensor<8xf32>
// CHECK-NEXT: %Avg = fuse.pool mean %X window [4] strides [4] : tensor<9xf32> -> tensor<3xf32>
func.func @variants(%K: tensor<3x3x4xf32>, %B: tensor<2x9x3xf32>, %K1: tensor<3xf32>, %X: tensor<9xf32>) -> (tensor<4x2x4xf32>, tensor<5xf32>, tensor<6xf32>, tensor<8xf32>, tensor<3xf32>) {
  %0 = fuse.window %B affine_map<(d0, d1, d2, d3) -> (d0, ((d1 * 2) + d2), d3)> : tensor<2x9x3xf32> -> tensor<2x4x3x3xf32>
  %Strided = fuse.einsum "abc,deab->cde" sum (%K, %0) : (tensor<3x3x4xf32>, tensor<2x4x3x3xf32>) -> tensor<4x2x4xf32>
  %1 = fuse.window %X affine_map<(d0, d1) -> ((d0 + (d1 * 2)))> : tensor<9xf32> -> tensor<5x3xf32>
  %Dilated = fuse.einsum "a,ba->b" sum (%K1, %1) : (tensor<3xf32>, tensor<5x3xf32>) -> tensor<5xf32>
  %2 = fuse.window %X affine_map<(d0, d1) -> (((d0 + 1) + d1))> : tensor<9xf32> -> tensor<6x3xf32>
  %Shifted = fuse.einsum "a,ba->b" sum (%K1, %2) : (tensor<3xf32>, tensor<6x3xf32>) -> tensor<6xf32>
  %3 = fuse.window %X affine_map<(d0, d1) -> ((d0 + d1))> : tensor<9xf32> -> tensor<7x3xf32>
  %4 = fuse.einsum "a,ba->b" sum (%K1, %3) : (tensor<3xf32>, tensor<7x3xf32>) -> tensor<7xf32>
  %Padded = fuse.place %4 affine_map<(d0) -> ((d0 + 1))> sum : tensor<7xf32> -> tensor<8xf32>
  %Avg = fuse.place %X affine_map<(d0) -> ((d0 floordiv 4))> mean : tensor<9xf32> -> tensor<3xf32>
  func.return %Strided, %Dilated, %Shifted, %Padded, %Avg : tensor<4x2x4xf32>, tensor<5xf32>, tensor<6xf32>, tensor<8xf32>, tensor<3xf32>
}

// A depthwise convolution, Out[x, c] = Dw[dx, c] Image[x+dx, c]: the channel
// reaches the filter and the output, so it is a group (one per channel).
// CHECK-LABEL: func.func @depthwise
// CHECK-NEXT: %Out = fuse.conv %Image, %Dw "0g,0g->g0" strides [1] dilations [1] : (tensor<9x3xf32>, tensor<3x3xf32>) -> tensor<3x7xf32>
// CHECK-NOT: fuse.window
func.func @depthwise(%Dw: tensor<3x3xf32>, %Image: tensor<9x3xf32>) -> tensor<3x7xf32> {
  %0 = fuse.window %Image affine_map<(d0, d1, d2) -> ((d0 + d1), d2)> : tensor<9x3xf32> -> tensor<7x3x3xf32>
  %Out = fuse.einsum "ab,cab->bc" sum (%Dw, %0) : (tensor<3x3xf32>, tensor<7x3x3xf32>) -> tensor<3x7xf32>
  func.return %Out : tensor<3x7xf32>
}

// Left alone: a depthwise filter (the channel reaches the output) read at a constant
// batch position, a max einsum, a window beside two other operands, a constant image
// position, a shift place
// (Next[t+1] = X[t]), a pool into a larger tensor than its blocks fill, and a
// window whose map divides.
// CHECK-LABEL: func.func @unmatched
// CHECK-NOT: fuse.conv
// CHECK-NOT: fuse.pool
// CHECK: func.return
func.func @unmatched(%Dw: tensor<3x3xf32>, %B: tensor<2x9x3xf32>, %K1: tensor<3xf32>, %X: tensor<9xf32>) -> (tensor<3x7xf32>, tensor<7xf32>, tensor<7xf32>, tensor<7xf32>, tensor<10xf32>, tensor<4xf32>, tensor<7xf32>) {
  %Depthwise = fuse.window %B affine_map<(d0, d1, d2) -> (1, (d0 + d1), d2)> : tensor<2x9x3xf32> -> tensor<7x3x3xf32>
  %dw = fuse.einsum "ab,cab->bc" sum (%Dw, %Depthwise) : (tensor<3x3xf32>, tensor<7x3x3xf32>) -> tensor<3x7xf32>
  %1 = fuse.window %X affine_map<(d0, d1) -> ((d0 + d1))> : tensor<9xf32> -> tensor<7x3xf32>
  %max = fuse.einsum "a,ba->b" max (%K1, %1) : (tensor<3xf32>, tensor<7x3xf32>) -> tensor<7xf32>
  %three = fuse.einsum "a,ba,a->b" sum (%K1, %1, %K1) : (tensor<3xf32>, tensor<7x3xf32>, tensor<3xf32>) -> tensor<7xf32>
  %2 = fuse.window %B affine_map<(d0, d1) -> (0, (d0 + d1), 0)> : tensor<2x9x3xf32> -> tensor<7x3xf32>
  %constant = fuse.einsum "a,ba->b" sum (%K1, %2) : (tensor<3xf32>, tensor<7x3xf32>) -> tensor<7xf32>
  %Next = fuse.place %X affine_map<(d0) -> ((d0 + 1))> sum : tensor<9xf32> -> tensor<10xf32>
  %Big = fuse.place %X affine_map<(d0) -> ((d0 floordiv 3))> max : tensor<9xf32> -> tensor<4xf32>
  %3 = fuse.window %X affine_map<(d0, d1) -> ((d0 + d1) floordiv 2)> : tensor<9xf32> -> tensor<7x3xf32>
  %divided = fuse.einsum "a,ba->b" sum (%K1, %3) : (tensor<3xf32>, tensor<7x3xf32>) -> tensor<7xf32>
  func.return %dw, %max, %three, %constant, %Next, %Big, %divided : tensor<3x7xf32>, tensor<7xf32>, tensor<7xf32>, tensor<7xf32>, tensor<10xf32>, tensor<4xf32>, tensor<7xf32>
}
