// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=A,B}' --split-input-file | filecheck %s

// A converged float fixpoint X = B + A X differentiates implicitly: the
// body is evaluated once more at the converged X (outside the loop), the
// adjoint u = g + A^T u is itself a fixpoint (tensors "adjoint.X"), and
// A and B receive the body's gradient with cotangent u.
func.func @main(%A: tensor<3x3xf32> {fuse.name = "A"}, %B: tensor<3xf32> {fuse.name = "B"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %X = fuse.fixpoint naive {tensors = ["X"], tolerance = 1.000000e-06 : f32} : tensor<3xf32> {
  ^bb0(%cur: tensor<3xf32>):
    %0 = fuse.einsum "ij,j->i" sum (%A, %cur) : (tensor<3x3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %1 = fuse.binary add "i,i->i" (%B, %0) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    fuse.yield %1 : tensor<3xf32>
  }
  %L = fuse.einsum "i->" sum (%X) : (tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK:         %[[G:.*]] = fuse.select "i,,->i" (%X,
// CHECK-NEXT:    %[[AX:.*]] = fuse.einsum "ij,j->i" sum (%A, %X)
// CHECK-NEXT:    %[[F:.*]] = fuse.binary add "i,i->i" (%B, %[[AX]])
// CHECK-NEXT:    %[[U:.*]] = fuse.fixpoint naive {tensors = ["adjoint.X"], tolerance = 1.000000e-06 : f32} : tensor<3xf32> {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<3xf32>):
// CHECK-NEXT:      %[[JT:.*]] = fuse.einsum "i,ij->j" sum (%[[CUR]], %A)
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.binary add "a,a->a" (%[[G]], %[[JT]])
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[GA:.*]] = fuse.einsum "i,j->ij" sum (%[[U]], %X)
// CHECK-NEXT:    func.return %L, %[[GA]], %[[U]]

// -----

// A Boolean fixpoint (its values go through step) has zero gradient: no
// adjoint fixpoint, and A's gradient is zeros.
func.func @main(%A: tensor<2x2xf32> {fuse.name = "A"}, %B: tensor<2x2xf32> {fuse.name = "B"})
    -> (tensor<f32> {fuse.name = "L"}) {
  %P = fuse.fixpoint naive {tensors = ["P"]} : tensor<2x2xf32> {
  ^bb0(%cur: tensor<2x2xf32>):
    %0 = fuse.einsum "xy,yz->xz" sum (%cur, %A) : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
    %1 = fuse.binary add "xz,xz->xz" (%A, %0) : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
    %2 = fuse.unary step %1 : tensor<2x2xf32>
    fuse.yield %2 : tensor<2x2xf32>
  }
  %L = fuse.einsum "xy,xy->" sum (%P, %B) : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK-LABEL: func.func @main
// CHECK-NOT:     adjoint
// CHECK:         %[[GB:.*]] = fuse.einsum ",xy->xy" sum (%{{.*}}, %P)
// CHECK-NEXT:    %[[ZERO:.*]] = fuse.constant dense<0.000000e+00> : tensor<2x2xf32>
// CHECK-NEXT:    func.return %L, %[[ZERO]], %[[GB]]
