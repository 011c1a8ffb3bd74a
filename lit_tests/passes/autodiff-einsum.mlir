// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=W,X}' --split-input-file | filecheck %s

// Sum: the gradient of each operand is an einsum of the loss's cotangent
// with the other operands, subscripts permuted. W's index j appears in W
// alone, so its gradient broadcasts back over j (a select with equal
// branches). The gradients come back as results named grad.W and grad.X.
func.func @main(%W: tensor<2x3xf32> {fuse.name = "W"}, %X: tensor<2xf32> {fuse.name = "X"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %L = fuse.einsum "ij,i->" sum (%W, %X) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK-SAME:    -> (tensor<f32> {fuse.name = "L"}, tensor<2x3xf32> {fuse.name = "grad.W"}, tensor<2xf32> {fuse.name = "grad.X"})
// CHECK:         %[[SEED:.*]] = fuse.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[GW:.*]] = fuse.einsum ",i->i" sum (%[[SEED]], %X)
// CHECK-NEXT:    %[[BW:.*]] = fuse.select "ij,i,i->ij" (%W, %[[GW]], %[[GW]])
// CHECK-NEXT:    %[[GX:.*]] = fuse.einsum ",ij->i" sum (%[[SEED]], %W)
// CHECK-NEXT:    func.return %L, %[[BW]], %[[GX]]

// -----

// Mean: the sum's gradient scaled by 1/N (here N = 4).
func.func @main(%W: tensor<4xf32> {fuse.name = "W"}, %X: tensor<4xf32> {fuse.name = "X"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %L = fuse.einsum "i,i->" mean (%W, %X) : (tensor<4xf32>, tensor<4xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[GW:.*]] = fuse.einsum ",i->i" sum (%{{.*}}, %X)
// CHECK-NEXT:    %[[QUARTER:.*]] = fuse.constant dense<2.500000e-01> : tensor<f32>
// CHECK-NEXT:    %{{.*}} = fuse.binary mul "a,->a" (%[[GW]], %[[QUARTER]])

// -----

// Max: the cotangent goes to the arg-max of the product over the projected
// index, split evenly among ties: weights (1 - step(max - product)) / ties.
func.func @main(%W: tensor<3xf32> {fuse.name = "W"}, %X: tensor<3xf32> {fuse.name = "X"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %L = fuse.einsum "i,i->" max (%W, %X) : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[PRODUCT:.*]] = fuse.einsum "i,i->i" sum (%W, %X)
// CHECK-NEXT:    %[[PEAK:.*]] = fuse.einsum "i->" max (%[[PRODUCT]])
// CHECK-NEXT:    %[[BELOW:.*]] = fuse.binary sub ",i->i" (%[[PEAK]], %[[PRODUCT]])
// CHECK-NEXT:    %[[STEP:.*]] = fuse.unary step %[[BELOW]]
// CHECK-NEXT:    %[[ONE:.*]] = fuse.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[AT:.*]] = fuse.binary sub ",a->a" (%[[ONE]], %[[STEP]])
// CHECK-NEXT:    %[[TIES:.*]] = fuse.einsum "i->" sum (%[[AT]])
// CHECK-NEXT:    %[[WEIGHTS:.*]] = fuse.binary div "i,->i" (%[[AT]], %[[TIES]])
// CHECK-NEXT:    %{{.*}} = fuse.einsum ",i,i->i" sum (%{{.*}}, %[[WEIGHTS]], %X)
