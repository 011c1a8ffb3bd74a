// RUN: fuse-opt %s -p 'fuse-autodiff{loss=L wrt=A}' --split-input-file --verify-diagnostics | filecheck %s

// The loss must be a scalar.
func.func @main(%A: tensor<3xf32> {fuse.name = "A"}) -> (tensor<3xf32> {fuse.name = "L"}) {
  %L = fuse.unary exp %A : tensor<3xf32>
  func.return %L : tensor<3xf32>
}

// CHECK: fuse-autodiff: loss 'L' must be a scalar, it has type tensor<3xf32>

// -----

// Semi-naive fixpoints are not differentiated: the pass belongs before
// fuse-semi-naive.
func.func @main(%A: tensor<2xf32> {fuse.name = "A"}) -> (tensor<f32> {fuse.name = "L"}) {
  %X = fuse.fixpoint semi_naive {tensors = ["X"], deltas = ["difference"]} : tensor<2xf32> init {
    fuse.yield %A : tensor<2xf32>
  } {
  ^bb0(%cur: tensor<2xf32>, %delta: tensor<2xf32>):
    fuse.yield %cur : tensor<2xf32>
  }
  %L = fuse.einsum "i->" sum (%X) : (tensor<2xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK: fuse-autodiff differentiates naive fixpoints (X is semi_naive): run fuse-autodiff before fuse-semi-naive

// -----

// A repeated index in one operand (a diagonal) has no rule: an error, not
// a wrong number.
func.func @main(%A: tensor<2x2xf32> {fuse.name = "A"}) -> (tensor<f32> {fuse.name = "L"}) {
  %L = fuse.einsum "ii->" sum (%A) : (tensor<2x2xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK: no gradient rule for fuse.einsum sum "ii->": an operand repeats an index ('ii', a diagonal)

// -----

// Overlapping pool windows whose last one is cut off by the end of the
// operand (3 every 2 over 6) have no rule: an error, not a wrong number.
func.func @main(%A: tensor<6xf32> {fuse.name = "A"}) -> (tensor<f32> {fuse.name = "L"}) {
  %P = fuse.pool max %A window [3] strides [2] : tensor<6xf32> -> tensor<3xf32>
  %L = fuse.einsum "a->" sum (%P) : (tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}

// CHECK: no gradient rule for fuse.pool whose windows differ from its strides and whose last window is cut off by the end of the operand
