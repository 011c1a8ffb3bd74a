// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=I,K}' --split-input-file | filecheck %s

// A convolution's input gradient is a transposed convolution: the
// cotangent spread out by the stride (2) and padded by the window's reach
// (2) on both sides, convolved with the filter flipped (dx -> 2 - dx) and
// its features swapped (i <-> o in the layout). Its filter gradient is a
// convolution of the input with the cotangent as the filter: the batch is
// contracted (the input's b is the feature f), the input features play the
// batch, and the stride becomes the dilation.
func.func @main(%I: tensor<2x9x3xf32> {fuse.name = "I"}, %K: tensor<3x3x4xf32> {fuse.name = "K"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %Y = fuse.conv %I, %K "b0f,0io->b0f" strides [2] dilations [1] : (tensor<2x9x3xf32>, tensor<3x3x4xf32>) -> tensor<2x4x4xf32>
  %L = fuse.einsum "abc,abc->" sum (%Y, %Y) : (tensor<2x4x4xf32>, tensor<2x4x4xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.binary add "abc,abc->abc"
// CHECK-NEXT:    %[[SPREAD:.*]] = fuse.place %[[G]] affine_map<(d0, d1, d2) -> (d0, ((d1 * 2) + 2), d2)> sum : tensor<2x4x4xf32> -> tensor<2x11x4xf32>
// CHECK-NEXT:    %[[FLIPPED:.*]] = fuse.window %K affine_map<(d0, d1, d2) -> (((d0 * -1) + 2), d1, d2)> : tensor<3x3x4xf32> -> tensor<3x3x4xf32>
// CHECK-NEXT:    %[[GI:.*]] = fuse.conv %[[SPREAD]], %[[FLIPPED]] "b0f,0oi->b0f" strides [1] dilations [1] : (tensor<2x11x4xf32>, tensor<3x3x4xf32>) -> tensor<2x9x3xf32>
// CHECK-NEXT:    %[[GK:.*]] = fuse.conv %I, %[[G]] "f0b,i0o->0bf" strides [1] dilations [2] : (tensor<2x9x3xf32>, tensor<2x4x4xf32>) -> tensor<3x3x4xf32>
// CHECK-NEXT:    func.return %L, %[[GI]], %[[GK]]

// -----

// With a dilation (2) and an input longer than the windows reach (10 > 9),
// the filter gradient reads the part the windows read (a crop window) and
// takes the dilation as its stride.
func.func @main(%I: tensor<10xf32> {fuse.name = "I"}, %K: tensor<3xf32> {fuse.name = "K"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %Y = fuse.conv %I, %K "0,0->0" strides [2] dilations [2] : (tensor<10xf32>, tensor<3xf32>) -> tensor<3xf32>
  %L = fuse.einsum "a,a->" sum (%Y, %Y) : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[SPREAD:.*]] = fuse.place %{{.*}} affine_map<(d0) -> (((d0 * 2) + 4))> sum : tensor<3xf32> -> tensor<14xf32>
// CHECK:         fuse.conv %[[SPREAD]], %{{.*}} "0,0->0" strides [1] dilations [2] : (tensor<14xf32>, tensor<3xf32>) -> tensor<10xf32>
// CHECK-NEXT:    %[[READ:.*]] = fuse.window %I affine_map<(d0) -> (d0)> : tensor<10xf32> -> tensor<9xf32>
// CHECK-NEXT:    fuse.conv %[[READ]], %{{.*}} "0,0->0" strides [2] dilations [2] : (tensor<9xf32>, tensor<3xf32>) -> tensor<3xf32>

// -----

// A pool whose windows tile its operand is a place through x floordiv S,
// and differentiates as one (a max pool: to the arg-max, ties split).
func.func @main(%I: tensor<5xf32> {fuse.name = "I"}, %K: tensor<3xf32> {fuse.name = "K"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %P = fuse.pool max %I window [2] strides [2] : tensor<5xf32> -> tensor<3xf32>
  %L = fuse.einsum "a,a->" sum (%P, %K) : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[ROUTED:.*]] = fuse.window %{{.*}} affine_map<(d0) -> ((d0 floordiv 2))> : tensor<3xf32> -> tensor<5xf32>
// CHECK-NEXT:    %[[PEAK:.*]] = fuse.window %P affine_map<(d0) -> ((d0 floordiv 2))> : tensor<3xf32> -> tensor<5xf32>
// CHECK-NEXT:    fuse.binary sub "a,a->a" (%[[PEAK]], %I)

// -----

// Overlapping windows (3 every 2): the operand read as (window, offset)
// pairs, the cotangent (over 3 for a mean) broadcast over the offsets and
// placed back, summing where windows overlap.
func.func @main(%I: tensor<7xf32> {fuse.name = "I"}, %K: tensor<3xf32> {fuse.name = "K"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %P = fuse.pool mean %I window [3] strides [2] : tensor<7xf32> -> tensor<3xf32>
  %L = fuse.einsum "a,a->" sum (%P, %K) : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[THIRD:.*]] = fuse.constant dense<0.333333343> : tensor<3xf32>
// CHECK-NEXT:    %[[SCALED:.*]] = fuse.binary mul "a,a->a" (%{{.*}}, %[[THIRD]])
// CHECK-NEXT:    %[[SPREAD:.*]] = fuse.window %[[SCALED]] affine_map<(d0, d1) -> (d0)> : tensor<3xf32> -> tensor<3x3xf32>
// CHECK-NEXT:    %[[GI:.*]] = fuse.place %[[SPREAD]] affine_map<(d0, d1) -> (((d0 * 2) + d1))> sum : tensor<3x3xf32> -> tensor<7xf32>
// CHECK-NEXT:    func.return %L, %[[GI]]
