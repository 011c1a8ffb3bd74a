// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=X}' --split-input-file | filecheck %s

// softmax along axis 1: dX = y (g - sum_j g y). A masked softmax has the
// same rule (y is 0 where masked); the mask gets no gradient.
func.func @main(%X: tensor<2x3xf32> {fuse.name = "X"}, %W: tensor<2x3xf32> {fuse.name = "W"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %0 = fuse.normalize softmax axis 1 (%X) : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %L = fuse.einsum "ij,ij->" sum (%0, %W) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.einsum ",ij->ij" sum (%{{.*}}, %W)
// CHECK-NEXT:    %[[GY:.*]] = fuse.einsum "ab,ab->a" sum (%[[G]], %0)
// CHECK-NEXT:    %[[C:.*]] = fuse.binary sub "ab,a->ab" (%[[G]], %[[GY]])
// CHECK-NEXT:    %[[GX:.*]] = fuse.binary mul "ab,ab->ab" (%[[C]], %0)
// CHECK-NEXT:    func.return %L, %[[GX]]

// -----

// lnorm along axis 1: dX = (g - mean(g) - y mean(g y)) / sqrt(var + eps),
// the variance recomputed from X.
func.func @main(%X: tensor<2x3xf32> {fuse.name = "X"}, %W: tensor<2x3xf32> {fuse.name = "W"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %0 = fuse.normalize lnorm axis 1 (%X) {eps = 1.000000e-03 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %L = fuse.einsum "ij,ij->" sum (%0, %W) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.einsum ",ij->ij" sum (%{{.*}}, %W)
// CHECK-NEXT:    %[[MU:.*]] = fuse.einsum "ab->a" mean (%X)
// CHECK-NEXT:    %[[D:.*]] = fuse.binary sub "ab,a->ab" (%X, %[[MU]])
// CHECK-NEXT:    %[[VAR:.*]] = fuse.einsum "ab,ab->a" mean (%[[D]], %[[D]])
// CHECK-NEXT:    %[[EPS:.*]] = fuse.constant dense<1.000000e-03> : tensor<f32>
// CHECK-NEXT:    %[[VE:.*]] = fuse.binary add "a,->a" (%[[VAR]], %[[EPS]])
// CHECK-NEXT:    %[[HALF:.*]] = fuse.constant dense<-5.000000e-01> : tensor<f32>
// CHECK-NEXT:    %[[INV:.*]] = fuse.binary pow "a,->a" (%[[VE]], %[[HALF]])
// CHECK-NEXT:    %[[MG:.*]] = fuse.einsum "ab->a" mean (%[[G]])
// CHECK-NEXT:    %[[MGY:.*]] = fuse.einsum "ab,ab->a" mean (%[[G]], %0)
// CHECK-NEXT:    %[[C:.*]] = fuse.binary sub "ab,a->ab" (%[[G]], %[[MG]])
// CHECK-NEXT:    %[[A:.*]] = fuse.binary mul "ab,a->ab" (%0, %[[MGY]])
// CHECK-NEXT:    %[[S:.*]] = fuse.binary sub "ab,ab->ab" (%[[C]], %[[A]])
// CHECK-NEXT:    %[[GX:.*]] = fuse.binary mul "ab,a->ab" (%[[S]], %[[INV]])
// CHECK-NEXT:    func.return %L, %[[GX]]
