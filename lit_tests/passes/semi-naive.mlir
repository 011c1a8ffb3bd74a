// RUN: fuse-opt %s -p 'fuse-semi-naive{strategy=auto}' | filecheck %s

// Naive fixpoints as fuse-stratify emits them, rewritten into delta form.

// Linear Datalog recursion (transitive closure):
//   Path(x, y) = Edge(x, y)
//   Path(x, z) += Path(x, y) Edge(y, z)
// init is the body at zeros: the join with the zero Path vanishes, leaving
// step(Edge). The body joins only the delta; the base term Edge drops out
// because the current value already holds it.
func.func @linear(%Edge: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %Path = fuse.fixpoint naive {tensors = ["Path"], max_iters = 20 : i64} : tensor<4x4xf32> {
  ^bb0(%Path_1: tensor<4x4xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%Path_1, %Edge) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.binary add "ac,ac->ac" (%Edge, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %Path_2 = fuse.unary step %1 : tensor<4x4xf32>
    fuse.yield %Path_2 : tensor<4x4xf32>
  }
  func.return %Path : tensor<4x4xf32>
}

// CHECK-LABEL: func.func @linear
// CHECK-NEXT:    %Path = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"], max_iters = 20 : i64} : tensor<4x4xf32> init {
// CHECK-NEXT:      %[[FIRST:.*]] = fuse.unary step %Edge : tensor<4x4xf32>
// CHECK-NEXT:      fuse.yield %[[FIRST]] : tensor<4x4xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<4x4xf32>, %dPath: tensor<4x4xf32>):
// CHECK-NEXT:      %[[NEW:.*]] = fuse.einsum "ab,bc->ac" sum (%dPath, %Edge)
// CHECK-NEXT:      %[[SUM:.*]] = fuse.binary add "ab,ab->ab" (%[[CUR]], %[[NEW]])
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.unary step %[[SUM]] : tensor<4x4xf32>
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<4x4xf32>
// CHECK-NEXT:    }

// The same with dynamic dimensions: no zero tensor is needed.
func.func @linear_dynamic(%Edge: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %Path = fuse.fixpoint naive {tensors = ["Path"]} : tensor<?x?xf32> {
  ^bb0(%Path_1: tensor<?x?xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%Path_1, %Edge) : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %1 = fuse.binary add "ac,ac->ac" (%Edge, %0) : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %Path_2 = fuse.unary step %1 : tensor<?x?xf32>
    fuse.yield %Path_2 : tensor<?x?xf32>
  }
  func.return %Path : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @linear_dynamic
// CHECK-NEXT:    %Path = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<?x?xf32> init {
// CHECK-NEXT:      %[[FIRST:.*]] = fuse.unary step %Edge : tensor<?x?xf32>
// CHECK-NEXT:      fuse.yield %[[FIRST]] : tensor<?x?xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<?x?xf32>, %dPath: tensor<?x?xf32>):
// CHECK-NEXT:      %[[NEW:.*]] = fuse.einsum "ab,bc->ac" sum (%dPath, %Edge)
// CHECK-NEXT:      %[[SUM:.*]] = fuse.binary add "ab,ab->ab" (%[[CUR]], %[[NEW]])
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.unary step %[[SUM]] : tensor<?x?xf32>
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<?x?xf32>

// Non-linear recursion: Path(x, z) += Path(x, y) Path(y, z). Under OR the
// product rule delta x full + full x delta finds every new path.
func.func @nonlinear(%Edge: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %Path = fuse.fixpoint naive {tensors = ["Path"]} : tensor<4x4xf32> {
  ^bb0(%Path_1: tensor<4x4xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%Path_1, %Path_1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.binary add "ac,ac->ac" (%Edge, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %Path_2 = fuse.unary step %1 : tensor<4x4xf32>
    fuse.yield %Path_2 : tensor<4x4xf32>
  }
  func.return %Path : tensor<4x4xf32>
}

// CHECK-LABEL: func.func @nonlinear
// CHECK-NEXT:    %Path = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<4x4xf32> init {
// CHECK-NEXT:      %[[FIRST:.*]] = fuse.unary step %Edge : tensor<4x4xf32>
// CHECK-NEXT:      fuse.yield %[[FIRST]] : tensor<4x4xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<4x4xf32>, %dPath: tensor<4x4xf32>):
// CHECK-NEXT:      %[[LEFT:.*]] = fuse.einsum "ab,bc->ac" sum (%dPath, %[[CUR]])
// CHECK-NEXT:      %[[RIGHT:.*]] = fuse.einsum "ab,bc->ac" sum (%[[CUR]], %dPath)
// CHECK-NEXT:      %[[NEW:.*]] = fuse.binary add "ab,ab->ab" (%[[LEFT]], %[[RIGHT]])
// CHECK-NEXT:      %[[SUM:.*]] = fuse.binary add "ab,ab->ab" (%[[CUR]], %[[NEW]])
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.unary step %[[SUM]] : tensor<4x4xf32>
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<4x4xf32>

// Mutual recursion: each yielded value is rewritten on its own, with the
// deltas of whichever arguments it reads.
//   A(x, y) = E(x, y)
//   A(x, z) += B(x, y) E(y, z)
//   B(x, z) = A(x, y) F(y, z)
// B has no base rule, so its first value is a zero tensor.
func.func @mutual(%E: tensor<4x4xf32>, %F: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %A, %B = fuse.fixpoint naive {tensors = ["A", "B"]} : tensor<4x4xf32>, tensor<4x4xf32> {
  ^bb0(%A_1: tensor<4x4xf32>, %B_1: tensor<4x4xf32>):
    %0 = fuse.einsum "ab,bc->ac" sum (%B_1, %E) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.binary add "ac,ac->ac" (%E, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %A_2 = fuse.unary step %1 : tensor<4x4xf32>
    %2 = fuse.einsum "ab,bc->ac" sum (%A_1, %F) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %B_2 = fuse.unary step %2 : tensor<4x4xf32>
    fuse.yield %A_2, %B_2 : tensor<4x4xf32>, tensor<4x4xf32>
  }
  func.return %A, %B : tensor<4x4xf32>, tensor<4x4xf32>
}

// CHECK-LABEL: func.func @mutual
// CHECK-NEXT:    %A, %B = fuse.fixpoint semi_naive {tensors = ["A", "B"], deltas = ["changed", "changed"]} : tensor<4x4xf32>, tensor<4x4xf32> init {
// CHECK-NEXT:      %[[A0:.*]] = fuse.unary step %E : tensor<4x4xf32>
// CHECK-NEXT:      %[[B0:.*]] = fuse.constant dense<0.000000e+00> : tensor<4x4xf32>
// CHECK-NEXT:      fuse.yield %[[A0]], %[[B0]] : tensor<4x4xf32>, tensor<4x4xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CA:.*]]: tensor<4x4xf32>, %[[CB:.*]]: tensor<4x4xf32>, %dA: tensor<4x4xf32>, %dB: tensor<4x4xf32>):
// CHECK-NEXT:      %[[NA:.*]] = fuse.einsum "ab,bc->ac" sum (%dB, %E)
// CHECK-NEXT:      %[[SA:.*]] = fuse.binary add "ab,ab->ab" (%[[CA]], %[[NA]])
// CHECK-NEXT:      %[[XA:.*]] = fuse.unary step %[[SA]] : tensor<4x4xf32>
// CHECK-NEXT:      %[[NB:.*]] = fuse.einsum "ab,bc->ac" sum (%dA, %F)
// CHECK-NEXT:      %[[SB:.*]] = fuse.binary add "ab,ab->ab" (%[[CB]], %[[NB]])
// CHECK-NEXT:      %[[XB:.*]] = fuse.unary step %[[SB]] : tensor<4x4xf32>
// CHECK-NEXT:      fuse.yield %[[XA]], %[[XB]] : tensor<4x4xf32>, tensor<4x4xf32>

// max recursion, linear and non-linear:
//   Dist[x] max= S[x]
//   Dist[x] max= Dist[y] W[y, x]
//   Dist[x] max= Dist[y] Dist[z] V[y, z, x]
// init keeps max(S, 0) exact (S may be negative; cse merges the zeros); the
// body maxes the current value with what the deltas derive.
func.func @max(%S: tensor<4xf32>, %W: tensor<4x4xf32>, %V: tensor<4x4x4xf32>) -> tensor<4xf32> {
  %Dist = fuse.fixpoint naive {tensors = ["Dist"]} : tensor<4xf32> {
  ^bb0(%Dist_1: tensor<4xf32>):
    %0 = fuse.einsum "a,ab->b" max (%Dist_1, %W) : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
    %1 = fuse.binary max "b,b->b" (%S, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %2 = fuse.einsum "a,c,acb->b" max (%Dist_1, %Dist_1, %V) : (tensor<4xf32>, tensor<4xf32>, tensor<4x4x4xf32>) -> tensor<4xf32>
    %Dist_2 = fuse.binary max "b,b->b" (%1, %2) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    fuse.yield %Dist_2 : tensor<4xf32>
  }
  func.return %Dist : tensor<4xf32>
}

// CHECK-LABEL: func.func @max
// CHECK-NEXT:    %Dist = fuse.fixpoint semi_naive {tensors = ["Dist"], deltas = ["changed"]} : tensor<4xf32> init {
// CHECK-NEXT:      %[[ZERO:.*]] = fuse.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[BASE:.*]] = fuse.binary max "b,->b" (%S, %[[ZERO]])
// CHECK-NEXT:      %[[ZERO2:.*]] = fuse.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[FIRST:.*]] = fuse.binary max "b,->b" (%[[BASE]], %[[ZERO2]])
// CHECK-NEXT:      fuse.yield %[[FIRST]] : tensor<4xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<4xf32>, %dDist: tensor<4xf32>):
// CHECK-NEXT:      %[[LIN:.*]] = fuse.einsum "a,ab->b" max (%dDist, %W)
// CHECK-NEXT:      %[[L:.*]] = fuse.einsum "a,c,acb->b" max (%dDist, %[[CUR]], %V)
// CHECK-NEXT:      %[[R:.*]] = fuse.einsum "a,c,acb->b" max (%[[CUR]], %dDist, %V)
// CHECK-NEXT:      %[[NL:.*]] = fuse.binary max "a,a->a" (%[[L]], %[[R]])
// CHECK-NEXT:      %[[NEW:.*]] = fuse.binary max "b,b->b" (%[[LIN]], %[[NL]])
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.binary max "a,a->a" (%[[CUR]], %[[NEW]])
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<4xf32>

// Linear recursion under sum over floats: X[i] = A[i] + X[j] M[j, i].
// init is the base A; the body adds the image of the difference.
func.func @sum_linear(%A: tensor<4xf32>, %M: tensor<4x4xf32>) -> tensor<4xf32> {
  %X = fuse.fixpoint naive {tensors = ["X"], tolerance = 1.0e-05 : f32} : tensor<4xf32> {
  ^bb0(%X_1: tensor<4xf32>):
    %0 = fuse.einsum "a,ab->b" sum (%X_1, %M) : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
    %X_2 = fuse.binary add "b,b->b" (%A, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    fuse.yield %X_2 : tensor<4xf32>
  }
  func.return %X : tensor<4xf32>
}

// CHECK-LABEL: func.func @sum_linear
// CHECK-NEXT:    %X = fuse.fixpoint semi_naive {tensors = ["X"], deltas = ["difference"], tolerance = 1.000000e-05 : f32} : tensor<4xf32> init {
// CHECK-NEXT:      fuse.yield %A : tensor<4xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<4xf32>, %dX: tensor<4xf32>):
// CHECK-NEXT:      %[[NEW:.*]] = fuse.einsum "a,ab->b" sum (%dX, %M)
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.binary add "a,a->a" (%[[CUR]], %[[NEW]])
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<4xf32>

// Affine ops pass the difference through: X[i] = A[i] - X[j] M[j, i] / 2.
// At zeros, A - 0 is A; the delta of A - t is 0 - delta(t), and the
// division by a constant stays.
func.func @sum_affine(%A: tensor<4xf32>, %M: tensor<4x4xf32>) -> tensor<4xf32> {
  %X = fuse.fixpoint naive {tensors = ["X"]} : tensor<4xf32> {
  ^bb0(%X_1: tensor<4xf32>):
    %0 = fuse.einsum "a,ab->ab" sum (%X_1, %M) : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.constant dense<2.000000e+00> : tensor<f32>
    %2 = fuse.binary div "ab,->ab" (%0, %1) : (tensor<4x4xf32>, tensor<f32>) -> tensor<4x4xf32>
    %3 = fuse.einsum "ab->b" sum (%2) : (tensor<4x4xf32>) -> tensor<4xf32>
    %X_2 = fuse.binary sub "b,b->b" (%A, %3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    fuse.yield %X_2 : tensor<4xf32>
  }
  func.return %X : tensor<4xf32>
}

// CHECK-LABEL: func.func @sum_affine
// CHECK-NEXT:    %X = fuse.fixpoint semi_naive {tensors = ["X"], deltas = ["difference"]} : tensor<4xf32> init {
// CHECK-NEXT:      fuse.yield %A : tensor<4xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%[[CUR:.*]]: tensor<4xf32>, %dX: tensor<4xf32>):
// CHECK-NEXT:      %[[J:.*]] = fuse.einsum "a,ab->ab" sum (%dX, %M)
// CHECK-NEXT:      %[[TWO:.*]] = fuse.constant dense<2.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[D:.*]] = fuse.binary div "ab,->ab" (%[[J]], %[[TWO]])
// CHECK-NEXT:      %[[P:.*]] = fuse.einsum "ab->b" sum (%[[D]])
// CHECK-NEXT:      %[[ZERO:.*]] = fuse.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[NEG:.*]] = fuse.binary sub ",b->b" (%[[ZERO]], %[[P]])
// CHECK-NEXT:      %[[NEXT:.*]] = fuse.binary add "a,a->a" (%[[CUR]], %[[NEG]])
// CHECK-NEXT:      fuse.yield %[[NEXT]] : tensor<4xf32>
