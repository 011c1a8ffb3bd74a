// Verifier errors of the dataflow level (except fuse.fixpoint), one per chunk.
// RUN: fuse-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) {
  %0 = fuse.einsum "ikl,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.einsum subscripts 'ikl' have rank 3, but the type tensor<4x8xf32> has rank 2

// -----

func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) {
  %0 = fuse.einsum "ik,kj->ij" prod (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: unknown projection 'prod', expected one of sum, max, mean

// -----

func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) {
  %0 = fuse.einsum "ik,kj" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: subscripts 'ik,kj' must contain one '->'

// -----

func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) {
  %0 = fuse.einsum "i1,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: subscripts 'i1,kj->ij' may only use letters a-z, A-Z

// -----

func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) {
  %0 = fuse.einsum "ik->i" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4xf32>
  func.return
}

// CHECK: fuse.einsum subscripts 'ik->i' name 1 operands, but it has 2

// -----

func.func @f(%A: tensor<4x4xf32>) {
  %0 = fuse.einsum "ij->ii" sum (%A) : (tensor<4x4xf32>) -> tensor<4x4xf32>
  func.return
}

// CHECK: fuse.einsum output subscripts 'ii' repeat a letter

// -----

func.func @f(%A: tensor<4x8xf32>, %B: tensor<4x3xf32>) {
  %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.einsum dimension 'k' has sizes 8 and 4

// -----

func.func @f(%A: tensor<4x8xf32>) {
  %0 = fuse.einsum "ik->iz" sum (%A) : (tensor<4x8xf32>) -> tensor<4x2xf32>
  func.return
}

// CHECK: fuse.einsum output index 'z' is in no operand

// -----

func.func @f(%X: tensor<4x3xf32>, %B: tensor<3xf32>) {
  %0 = fuse.binary mod "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: unknown binary function 'mod', expected one of add, sub, mul, div, pow, max, min

// -----

func.func @f(%X: tensor<4x3xf32>, %B: tensor<3xf32>) {
  %0 = fuse.binary add "ij,j->i" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4xf32>
  func.return
}

// CHECK: fuse.binary cannot project away 'j': its output must keep every operand index

// -----

func.func @f(%X: tensor<4x3xf32>, %B: tensor<3xf32>) {
  %0 = fuse.binary add "ij,ij->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.binary subscripts 'ij' have rank 2, but the type tensor<3xf32> has rank 1

// -----

func.func @f(%X: tensor<4x3xf32>, %B: tensor<3xf32>) {
  %0 = fuse.select "ij,ij->ij" (%X, %X, %B) : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.select subscripts 'ij,ij->ij' name 2 operands, but it has 3

// -----

func.func @f(%X: tensor<4x3xf32>, %B: tensor<3xf32>) {
  %0 = fuse.select "ij,ij,j->j" (%X, %X, %B) : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return
}

// CHECK: fuse.select cannot project away 'i': its output must keep every operand index

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = fuse.unary softplus %X : tensor<4x3xf32>
  func.return
}

// CHECK: unknown unary function 'softplus', expected one of relu, gelu, sig, step, exp, log, sqrt, abs, tanh, sin, cos, neg

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = fuse.unary relu %X {temperature = 1.0 : f32} : tensor<4x3xf32>
  func.return
}

// CHECK: only 'sig' takes a temperature

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = "fuse.unary"(%X) <{fn = "relu"}> : (tensor<4x3xf32>) -> tensor<3x4xf32>
  func.return
}

// CHECK: fuse.unary must keep its operand's type

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = fuse.normalize rmsnorm axis 1 (%X) : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: unknown normalization 'rmsnorm', expected one of softmax, lnorm

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = fuse.normalize softmax axis 2 (%X) : (tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.normalize axis 2 is out of range for rank 2

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = fuse.normalize lnorm axis 1 (%X, %X) : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: only softmax takes a mask

// -----

func.func @f(%X: tensor<4x3xf32>, %M: tensor<3xf32>) {
  %0 = fuse.normalize softmax axis 1 (%X, %M) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.normalize mask must have the operand's type

// -----

func.func @f(%X: tensor<4x3xf32>) {
  %0 = "fuse.normalize"(%X) <{kind = "softmax", axis = 1 : i64}> : (tensor<4x3xf32>) -> tensor<4x3xf64>
  func.return
}

// CHECK: fuse.normalize must keep its operand's type

// -----

func.func @f() {
  %0 = "fuse.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<3xf32>
  func.return
}

// CHECK: fuse.constant result type must match its value's type

// -----

func.func @f() {
  %0 = fuse.index_fn diag : tensor<4x4xf32>
  func.return
}

// CHECK: unknown index function 'diag', expected one of even, odd, causal, onehot

// -----

func.func @f() {
  %0 = fuse.index_fn causal : tensor<4xf32>
  func.return
}

// CHECK: index function 'causal' has rank 2, but the result has rank 1

// -----

func.func @f() {
  %0 = fuse.index_fn onehot : tensor<4xf32>
  func.return
}

// CHECK: 'onehot', and only 'onehot', takes a position

// -----

func.func @f() {
  %0 = fuse.index_fn even {position = 1 : i64} : tensor<4xf32>
  func.return
}

// CHECK: 'onehot', and only 'onehot', takes a position

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.take %A dim 2 index 0 : tensor<5x4xf32> -> tensor<5xf32>
  func.return
}

// CHECK: fuse.take dim 2 is out of range for rank 2

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.take %A dim 0 index 5 : tensor<5x4xf32> -> tensor<4xf32>
  func.return
}

// CHECK: fuse.take index 5 is out of range for dimension of size 5

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.take %A dim 0 index -1 : tensor<5x4xf32> -> tensor<4xf32>
  func.return
}

// CHECK: fuse.take index -1 is out of range for dimension of size 5

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.take %A dim 0 index 1 : tensor<5x4xf32> -> tensor<5xf32>
  func.return
}

// CHECK: fuse.take result must have shape [4]

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.concat axis 2 (%A, %A) : (tensor<5x4xf32>, tensor<5x4xf32>) -> tensor<5x8xf32>
  func.return
}

// CHECK: fuse.concat axis 2 is out of range for rank 2

// -----

func.func @f(%A: tensor<5x4xf32>, %B: tensor<4xf32>) {
  %0 = fuse.concat axis 1 (%A, %B) : (tensor<5x4xf32>, tensor<4xf32>) -> tensor<5x8xf32>
  func.return
}

// CHECK: fuse.concat operand #1 must have rank 2

// -----

func.func @f(%A: tensor<5x4xf32>, %B: tensor<6x4xf32>) {
  %0 = fuse.concat axis 1 (%A, %B) : (tensor<5x4xf32>, tensor<6x4xf32>) -> tensor<5x8xf32>
  func.return
}

// CHECK: fuse.concat operands and result disagree on dimension 0: sizes [5, 6]

// -----

func.func @f(%A: tensor<5x4xf32>, %B: tensor<5x3xf32>) {
  %0 = fuse.concat axis 1 (%A, %B) : (tensor<5x4xf32>, tensor<5x3xf32>) -> tensor<5x8xf32>
  func.return
}

// CHECK: fuse.concat result has size 8 along axis 1, but its operands add up to 7

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.topk k 2 axis 2 %A : tensor<5x4xf32>
  func.return
}

// CHECK: fuse.topk axis 2 is out of range for rank 2

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = fuse.topk k 0 axis 1 %A : tensor<5x4xf32>
  func.return
}

// CHECK: fuse.topk needs k >= 1, got 0

// -----

func.func @f(%A: tensor<5x4xf32>) {
  %0 = "fuse.topk"(%A) <{k = 1 : i64, axis = 1 : i64}> : (tensor<5x4xf32>) -> tensor<5x1xf32>
  func.return
}

// CHECK: fuse.topk must keep its operand's type

// -----

func.func @bad_path(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = fuse.einsum "ab,bc->ac" sum (%a, %b) {path = [[0 : i64, 2 : i64]]} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: fuse.einsum path step [0, 2] does not name distinct operands among the 2 left at that step

// -----

func.func @short_path(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<2xf32> {
  %0 = fuse.einsum "ab,bc,c->a" sum (%a, %b, %c) {path = [[0 : i64, 1 : i64]]} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: fuse.einsum path leaves 2 operands; it must contract all of them
