// RUN: fuse-opt %s -p 'fuse-semi-naive{strategy=auto}' | filecheck %s
// RUN: fuse-opt %s -p 'fuse-semi-naive{strategy=naive}' | filecheck %s --check-prefix=UNTOUCHED

// Fixpoints that stay naive under strategy=auto, each with its reason; with
// strategy=naive nothing changes, not even a rewritable fixpoint.

// X[i] = relu(A[i] + X[j] M[j, i]): relu after the sum is no aggregate.
func.func @relu(%A: tensor<4xf32>, %M: tensor<4x4xf32>) -> tensor<4xf32> {
  %X = fuse.fixpoint naive {tensors = ["X"]} : tensor<4xf32> {
  ^bb0(%X_1: tensor<4xf32>):
    %0 = fuse.einsum "a,ab->b" sum (%X_1, %M) : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
    %1 = fuse.binary add "b,b->b" (%A, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %X_2 = fuse.unary relu %1 : tensor<4xf32>
    fuse.yield %X_2 : tensor<4xf32>
  }
  func.return %X : tensor<4xf32>
}

// CHECK-LABEL: func.func @relu
// CHECK-NEXT:    %X = fuse.fixpoint naive {tensors = ["X"], naive_reason = "X: fuse.unary relu of a recursive value does not distribute over sum"} : tensor<4xf32> {
// CHECK-NEXT:    ^bb0(%X_1: tensor<4xf32>):
// CHECK-NEXT:      %0 = fuse.einsum "a,ab->b" sum (%X_1, %M)

// X[i] = A[i] + X[j] X[j] M[j, i]: non-linear recursion under sum, where
// delta x full + full x delta would count the delta x delta part twice.
func.func @nonlinear_sum(%A: tensor<4xf32>, %M: tensor<4x4xf32>) -> tensor<4xf32> {
  %X = fuse.fixpoint naive {tensors = ["X"]} : tensor<4xf32> {
  ^bb0(%X_1: tensor<4xf32>):
    %0 = fuse.einsum "a,a,ab->b" sum (%X_1, %X_1, %M) : (tensor<4xf32>, tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
    %X_2 = fuse.binary add "b,b->b" (%A, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    fuse.yield %X_2 : tensor<4xf32>
  }
  func.return %X : tensor<4xf32>
}

// CHECK-LABEL: func.func @nonlinear_sum
// CHECK-NEXT:    %X = fuse.fixpoint naive {tensors = ["X"], naive_reason = "X: a product of 2 recursive values is not linear (non-linear sum recursion)"} : tensor<4xf32> {

// A sum projection of a recursive value under max: a sum over all y is not
// the max of its old value and a sum over the changed y.
func.func @sum_under_max(%S: tensor<4xf32>, %W: tensor<4x4xf32>) -> tensor<4xf32> {
  %D = fuse.fixpoint naive {tensors = ["D"]} : tensor<4xf32> {
  ^bb0(%D_1: tensor<4xf32>):
    %0 = fuse.einsum "a,ab->b" sum (%D_1, %W) : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
    %D_2 = fuse.binary max "b,b->b" (%S, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    fuse.yield %D_2 : tensor<4xf32>
  }
  func.return %D : tensor<4xf32>
}

// CHECK-LABEL: func.func @sum_under_max
// CHECK-NEXT:    %D = fuse.fixpoint naive {tensors = ["D"], naive_reason = "D: a sum projection of a recursive value does not distribute over max"} : tensor<4xf32> {

// Boolean P and float Q in one component: a `changed` delta of P and a
// `difference` delta of Q cannot both serve the other.
//   P(x, y) = Edge(x, y) + P(x, y) Edge(y, z) + Q[x, y];  Q[x, y] = P(x, y) * 0.5
func.func @mixed(%Edge: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %P, %Q = fuse.fixpoint naive {tensors = ["P", "Q"]} : tensor<4x4xf32>, tensor<4x4xf32> {
  ^bb0(%P_1: tensor<4x4xf32>, %Q_1: tensor<4x4xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%P_1, %Edge) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.binary add "ac,ac->ac" (%Edge, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %2 = fuse.binary add "ac,ac->ac" (%1, %Q_1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %P_2 = fuse.unary step %2 : tensor<4x4xf32>
    %3 = fuse.constant dense<5.000000e-01> : tensor<f32>
    %Q_2 = fuse.einsum "ab,->ab" sum (%P_1, %3) : (tensor<4x4xf32>, tensor<f32>) -> tensor<4x4xf32>
    fuse.yield %P_2, %Q_2 : tensor<4x4xf32>, tensor<4x4xf32>
  }
  func.return %P, %Q : tensor<4x4xf32>, tensor<4x4xf32>
}

// CHECK-LABEL: func.func @mixed
// CHECK-NEXT:    %P, %Q = fuse.fixpoint naive {tensors = ["P", "Q"], naive_reason = "mixes sum recursion (Q) with Boolean/max recursion (P)"}

// A(x, z) = B(x, y) E(y, z); B(x, z) = A(x, y) F(y, z) + F(x, z), with
// dynamic sizes: A's first value is all zeros, of unknown shape.
func.func @dynamic_zero(%E: tensor<?x?xf32>, %F: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %A, %B = fuse.fixpoint naive {tensors = ["A", "B"]} : tensor<?x?xf32>, tensor<?x?xf32> {
  ^bb0(%A_1: tensor<?x?xf32>, %B_1: tensor<?x?xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%B_1, %E) : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %A_2 = fuse.unary step %0 : tensor<?x?xf32>
    %1 = fuse.einsum "ab,bc->ac" sum (%A_1, %F) : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %2 = fuse.binary add "ac,ac->ac" (%F, %1) : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %B_2 = fuse.unary step %2 : tensor<?x?xf32>
    fuse.yield %A_2, %B_2 : tensor<?x?xf32>, tensor<?x?xf32>
  }
  func.return %A : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @dynamic_zero
// CHECK-NEXT:    %A, %B = fuse.fixpoint naive {tensors = ["A", "B"], naive_reason = "needs a zero tensor of dynamic shape tensor<?x?xf32>"}

// Rewritable, but strategy=naive leaves it (and every fixpoint above) as is.
func.func @rewritable(%Edge: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %Path = fuse.fixpoint naive {tensors = ["Path"]} : tensor<4x4xf32> {
  ^bb0(%Path_1: tensor<4x4xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%Path_1, %Edge) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.binary add "ac,ac->ac" (%Edge, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %Path_2 = fuse.unary step %1 : tensor<4x4xf32>
    fuse.yield %Path_2 : tensor<4x4xf32>
  }
  func.return %Path : tensor<4x4xf32>
}

// CHECK-LABEL: func.func @rewritable
// CHECK-NEXT:    %Path = fuse.fixpoint semi_naive

// UNTOUCHED-NOT:   semi_naive
// UNTOUCHED-NOT:   naive_reason
// UNTOUCHED-LABEL: func.func @rewritable
// UNTOUCHED-NEXT:    %Path = fuse.fixpoint naive {tensors = ["Path"]} : tensor<4x4xf32> {
// UNTOUCHED-NEXT:    ^bb0(%Path_1: tensor<4x4xf32>):
// UNTOUCHED-NEXT:      %0 = fuse.einsum "ab,bc->ac" sum (%Path_1, %Edge)
// UNTOUCHED-NEXT:      %1 = fuse.binary add "ac,ac->ac" (%Edge, %0)
// UNTOUCHED-NEXT:      %Path_2 = fuse.unary step %1 : tensor<4x4xf32>
// UNTOUCHED-NEXT:      fuse.yield %Path_2 : tensor<4x4xf32>
// UNTOUCHED-NOT:   semi_naive
