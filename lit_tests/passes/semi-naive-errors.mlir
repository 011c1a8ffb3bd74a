// RUN: fuse-opt %s -p 'fuse-semi-naive{strategy=semi_naive}' --split-input-file --verify-diagnostics | filecheck %s

// strategy=semi_naive: a fixpoint that cannot be rewritten is an error that
// names its tensors and the reason.
//   X[i] = relu(A[i] + X[j] M[j, i])

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

// CHECK: fuse-semi-naive: the fixpoint of X cannot be semi-naive: X: fuse.unary relu of a recursive value does not distribute over sum

// -----

// The mutual component of A and B, with a softmax inside A's rule.
func.func @softmax(%E: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %A, %B = fuse.fixpoint naive {tensors = ["A", "B"]} : tensor<4x4xf32>, tensor<4x4xf32> {
  ^bb0(%A_1: tensor<4x4xf32>, %B_1: tensor<4x4xf32>):
    %0 = fuse.normalize softmax axis 1 (%B_1) : (tensor<4x4xf32>) -> tensor<4x4xf32>
    %1 = fuse.binary add "ab,ab->ab" (%E, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %A_2 = fuse.unary step %1 : tensor<4x4xf32>
    %2 = fuse.einsum "ab,bc->ac" sum (%A_1, %E) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %B_2 = fuse.unary step %2 : tensor<4x4xf32>
    fuse.yield %A_2, %B_2 : tensor<4x4xf32>, tensor<4x4xf32>
  }
  func.return %A : tensor<4x4xf32>
}

// CHECK: fuse-semi-naive: the fixpoint of A, B cannot be semi-naive: A: fuse.normalize softmax of a recursive value does not distribute over Boolean OR
