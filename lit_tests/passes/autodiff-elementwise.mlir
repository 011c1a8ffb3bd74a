// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=X,B}' --split-input-file | filecheck %s

// Y = relu(X * B) with B broadcast along i: relu passes the cotangent where
// its input is positive (step); mul sends it to each side times the other,
// summed down to the side's indices (B's gradient sums over i).
func.func @main(%X: tensor<2x3xf32> {fuse.name = "X"}, %B: tensor<3xf32> {fuse.name = "B"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %0 = fuse.binary mul "ij,j->ij" (%X, %B) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = fuse.unary relu %0 : tensor<2x3xf32>
  %L = fuse.einsum "ij->" sum (%1) : (tensor<2x3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[SEED:.*]] = fuse.constant dense<1.000000e+00> : tensor<f32>
// CHECK:         %[[G1:.*]] = fuse.select "ij,,->ij" (%1, %[[SEED]], %[[SEED]])
// CHECK-NEXT:    %[[MASK:.*]] = fuse.unary step %0 : tensor<2x3xf32>
// CHECK-NEXT:    %[[G0:.*]] = fuse.binary mul "ab,ab->ab" (%[[G1]], %[[MASK]])
// CHECK-NEXT:    %[[GX:.*]] = fuse.einsum "ij,j->ij" sum (%[[G0]], %B)
// CHECK-NEXT:    %[[GB:.*]] = fuse.einsum "ij,ij->j" sum (%[[G0]], %X)
// CHECK-NEXT:    func.return %L, %[[GX]], %[[GB]]

// -----

// exp and division: d exp(x) = exp(x); d(x/b) = g/b and -g x/b^2 = -(g/b) (x/b).
func.func @main(%X: tensor<3xf32> {fuse.name = "X"}, %B: tensor<3xf32> {fuse.name = "B"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %0 = fuse.unary exp %X : tensor<3xf32>
  %1 = fuse.binary div "i,i->i" (%0, %B) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %L = fuse.einsum "i->" sum (%1) : (tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G1:.*]] = fuse.select "i,,->i"
// CHECK-NEXT:    %[[Q:.*]] = fuse.binary div "i,i->i" (%[[G1]], %B)
// CHECK-NEXT:    %[[QZ:.*]] = fuse.binary mul "a,a->a" (%[[Q]], %1)
// CHECK-NEXT:    %[[GB:.*]] = fuse.unary neg %[[QZ]]
// CHECK-NEXT:    %[[GX:.*]] = fuse.binary mul "a,a->a" (%[[Q]], %0)
// CHECK-NEXT:    func.return %L, %[[GX]], %[[GB]]

// -----

// case (fuse.select): the cotangent goes to the branch taken; the
// condition gets none.
func.func @main(%X: tensor<3xf32> {fuse.name = "X"}, %B: tensor<3xf32> {fuse.name = "B"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %0 = fuse.select "i,i,i->i" (%X, %X, %B) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %L = fuse.einsum "i->" sum (%0) : (tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.select "i,,->i" (%0,
// CHECK-NEXT:    %[[ZERO:.*]] = fuse.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[GX:.*]] = fuse.select "i,i,->i" (%X, %[[G]], %[[ZERO]])
// CHECK-NEXT:    %[[GB:.*]] = fuse.select "i,,i->i" (%X, %[[ZERO]], %[[G]])
// CHECK-NEXT:    func.return %L, %[[GX]], %[[GB]]
