// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=X}' --split-input-file | filecheck %s

// A window's gradient places the cotangent back through the same map
// (summing where windows overlap). A max place sends each position's
// cotangent to the elements equal to its maximum, split among ties:
// (1 - step(z[map(d)] - v[d])) / ties, with ties counted by a sum place.
func.func @main(%X: tensor<6xf32> {fuse.name = "X"}, %K: tensor<3xf32> {fuse.name = "K"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %w = fuse.window %X affine_map<(d0, d1) -> (d0 + d1)> : tensor<6xf32> -> tensor<4x3xf32>
  %Y = fuse.einsum "ab,b->a" sum (%w, %K) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4xf32>
  %P = fuse.place %Y affine_map<(d0) -> (d0 floordiv 2)> max : tensor<4xf32> -> tensor<2xf32>
  %L = fuse.einsum "a->" sum (%P) : (tensor<2xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.select "a,,->a" (%P,
// CHECK-NEXT:    %[[ROUTED:.*]] = fuse.window %[[G]] affine_map<(d0) -> ((d0 floordiv 2))> : tensor<2xf32> -> tensor<4xf32>
// CHECK-NEXT:    %[[PEAK:.*]] = fuse.window %P affine_map<(d0) -> ((d0 floordiv 2))> : tensor<2xf32> -> tensor<4xf32>
// CHECK-NEXT:    %[[BELOW:.*]] = fuse.binary sub "a,a->a" (%[[PEAK]], %Y)
// CHECK-NEXT:    %[[STEP:.*]] = fuse.unary step %[[BELOW]]
// CHECK-NEXT:    %[[ONE:.*]] = fuse.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[AT:.*]] = fuse.binary sub ",a->a" (%[[ONE]], %[[STEP]])
// CHECK-NEXT:    %[[TIES:.*]] = fuse.place %[[AT]] affine_map<(d0) -> ((d0 floordiv 2))> sum : tensor<4xf32> -> tensor<2xf32>
// CHECK-NEXT:    %[[SPREAD:.*]] = fuse.window %[[TIES]] affine_map<(d0) -> ((d0 floordiv 2))> : tensor<2xf32> -> tensor<4xf32>
// CHECK-NEXT:    %[[WEIGHTS:.*]] = fuse.binary div "a,a->a" (%[[AT]], %[[SPREAD]])
// CHECK-NEXT:    %[[GY:.*]] = fuse.binary mul "a,a->a" (%[[ROUTED]], %[[WEIGHTS]])
// CHECK-NEXT:    %[[GW:.*]] = fuse.einsum "a,b->ab" sum (%[[GY]], %K)
// CHECK-NEXT:    %[[GX:.*]] = fuse.place %[[GW]] affine_map<(d0, d1) -> ((d0 + d1))> sum : tensor<4x3xf32> -> tensor<6xf32>
// CHECK-NEXT:    func.return %L, %[[GX]]

// -----

// A mean place divides each position's cotangent by how many elements land
// on it (the last block of 5 by 2 has one), then windows it back.
func.func @main(%X: tensor<5xf32> {fuse.name = "X"}) -> (tensor<f32> {fuse.name = "L"}) {
  %P = fuse.place %X affine_map<(d0) -> (d0 floordiv 2)> mean : tensor<5xf32> -> tensor<3xf32>
  %L = fuse.einsum "a->" sum (%P) : (tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.select "a,,->a" (%P,
// CHECK-NEXT:    %[[SHARE:.*]] = fuse.constant dense<[5.000000e-01, 5.000000e-01, 1.000000e+00]> : tensor<3xf32>
// CHECK-NEXT:    %[[SCALED:.*]] = fuse.binary mul "a,a->a" (%[[G]], %[[SHARE]])
// CHECK-NEXT:    %[[GX:.*]] = fuse.window %[[SCALED]] affine_map<(d0) -> ((d0 floordiv 2))> : tensor<3xf32> -> tensor<5xf32>
// CHECK-NEXT:    func.return %L, %[[GX]]

// -----

// A sum place (a shifted left-hand side, X[i + 1]) reads its cotangent back
// through the map: a window.
func.func @main(%X: tensor<3xf32> {fuse.name = "X"}) -> (tensor<f32> {fuse.name = "L"}) {
  %P = fuse.place %X affine_map<(d0) -> (d0 + 1)> sum : tensor<3xf32> -> tensor<4xf32>
  %L = fuse.einsum "a,a->" sum (%P, %P) : (tensor<4xf32>, tensor<4xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.binary add "a,a->a"
// CHECK-NEXT:    %[[GX:.*]] = fuse.window %[[G]] affine_map<(d0) -> ((d0 + 1))> : tensor<4xf32> -> tensor<3xf32>
// CHECK-NEXT:    func.return %L, %[[GX]]
