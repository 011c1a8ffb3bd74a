// RUN: fuse-opt %s -p convert-fuse-to-stablehlo | filecheck %s
// Each dataflow op kind lowered to StableHLO, function by function.

// Argument and result attributes survive; a matmul is one dot_general.
// CHECK-LABEL: func.func @matmul(%A: tensor<4x8xf32> {fuse.name = "A"}, %B: tensor<8x3xf32> {fuse.name = "B"}) -> (tensor<4x3xf32> {fuse.sink = "y.npy", fuse.dims = ["i", "j"]})
// CHECK-NEXT:    %[[D:.*]] = stablehlo.dot_general %A, %B, contracting_dims = [1] x [0], precision = [HIGHEST, HIGHEST] : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    func.return %[[D]] : tensor<4x3xf32>
// CHECK-NOT:     stablehlo.einsum
func.func @matmul(%A: tensor<4x8xf32> {fuse.name = "A"}, %B: tensor<8x3xf32> {fuse.name = "B"}) -> (tensor<4x3xf32> {fuse.sink = "y.npy", fuse.dims = ["i", "j"]}) {
  %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// Shared letters still needed are batch dimensions; the output is transposed.
// CHECK-LABEL: func.func @batched
// CHECK:         stablehlo.dot_general %{{.*}}, %{{.*}}, batching_dims = [0] x [0], contracting_dims = [2] x [1]{{.*}} -> tensor<2x3x5xf32>
// CHECK-NEXT:    stablehlo.transpose %{{.*}}, dims = [2, 1, 0] : (tensor<2x3x5xf32>) -> tensor<5x3x2xf32>
func.func @batched(%A: tensor<2x3x4xf32>, %B: tensor<2x4x5xf32>) -> tensor<5x3x2xf32> {
  %0 = fuse.einsum "bij,bjk->kib" sum (%A, %B) : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<5x3x2xf32>
  func.return %0 : tensor<5x3x2xf32>
}

// A letter only one operand has is summed away before the contraction;
// mean divides by the number of projected positions.
// CHECK-LABEL: func.func @private_letter_mean
// CHECK:         %[[S:.*]] = stablehlo.reduce(%B init: %{{.*}}) across dimensions = [1] : (tensor<4x5xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK:         stablehlo.add
// CHECK:         stablehlo.dot_general %A, %[[S]], contracting_dims = [1] x [0]{{.*}} -> tensor<3xf32>
// CHECK:         stablehlo.constant dense<2.000000e+01> : tensor<f32>
// CHECK:         stablehlo.divide
func.func @private_letter_mean(%A: tensor<3x4xf32>, %B: tensor<4x5xf32>) -> tensor<3xf32> {
  %0 = fuse.einsum "ij,jk->i" mean (%A, %B) : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}

// Three operands follow the recorded path: (B C) first, then A.
// CHECK-LABEL: func.func @path
// CHECK:         stablehlo.dot_general %B, %C, contracting_dims = [1] x [0]{{.*}} -> tensor<3x5xf32>
// CHECK-NEXT:    stablehlo.dot_general %A, %{{.*}}, contracting_dims = [1] x [0]{{.*}} -> tensor<2x5xf32>
func.func @path(%A: tensor<2x3xf32>, %B: tensor<3x4xf32>, %C: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %0 = fuse.einsum "ij,jk,kl->il" sum (%A, %B, %C) {path = [[1, 2], [0, 1]]} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return %0 : tensor<2x5xf32>
}

// max: broadcast to every letter, multiply, reduce with maximum from -inf.
// CHECK-LABEL: func.func @max_projection
// CHECK:         stablehlo.broadcast_in_dim %A, dims = [0, 2] : (tensor<4x8xf32>) -> tensor<4x3x8xf32>
// CHECK:         stablehlo.multiply {{.*}} : tensor<4x3x8xf32>
// CHECK:         stablehlo.constant dense<0xff800000> : tensor<f32>
// CHECK-NEXT:    stablehlo.reduce({{.*}}) across dimensions = [2] : (tensor<4x3x8xf32>, tensor<f32>) -> tensor<4x3xf32>
// CHECK:         stablehlo.maximum
func.func @max_projection(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) -> tensor<4x3xf32> {
  %0 = fuse.einsum "ik,kj->ij" max (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}

// A repeated letter selects the diagonal with an iota mask.
// CHECK-LABEL: func.func @trace
// CHECK:         stablehlo.iota dim = 0 : tensor<4x4xi32>
// CHECK-NEXT:    stablehlo.iota dim = 1 : tensor<4x4xi32>
// CHECK-NEXT:    stablehlo.compare EQ
// CHECK:         stablehlo.select
// CHECK:         stablehlo.reduce
func.func @trace(%A: tensor<4x4xf32>) -> tensor<f32> {
  %0 = fuse.einsum "ii->" sum (%A) : (tensor<4x4xf32>) -> tensor<f32>
  func.return %0 : tensor<f32>
}

// Binary operands are aligned by subscripts: transpose, then broadcast.
// CHECK-LABEL: func.func @binary
// CHECK:         %[[T:.*]] = stablehlo.transpose %Y, dims = [1, 0] : (tensor<3x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    %[[P:.*]] = stablehlo.power %X, %[[T]] : tensor<4x3xf32>
// CHECK-NEXT:    %[[B:.*]] = stablehlo.broadcast_in_dim %V, dims = [1] : (tensor<3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    stablehlo.subtract %[[P]], %[[B]] : tensor<4x3xf32>
func.func @binary(%X: tensor<4x3xf32>, %Y: tensor<3x4xf32>, %V: tensor<3xf32>) -> tensor<4x3xf32> {
  %0 = fuse.binary pow "ij,ji->ij" (%X, %Y) : (tensor<4x3xf32>, tensor<3x4xf32>) -> tensor<4x3xf32>
  %1 = fuse.binary sub "ij,j->ij" (%0, %V) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}

// CHECK-LABEL: func.func @select
// CHECK:         %[[C:.*]] = stablehlo.compare GT, %C, %{{.*}} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    stablehlo.select %[[C]], %A, %{{.*}} : tensor<2x3xi1>, tensor<2x3xf32>
func.func @select(%C: tensor<2x3xf32>, %A: tensor<2x3xf32>, %B: tensor<3xf32>) -> tensor<2x3xf32> {
  %0 = fuse.select "ij,ij,j->ij" (%C, %A, %B) : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @unary
// CHECK:         %[[ZERO:.*]] = stablehlo.broadcast_in_dim %{{.*}}, dims = [] : (tensor<f32>) -> tensor<4xf32>
// CHECK-NEXT:    %[[RELU:.*]] = stablehlo.maximum %X, %[[ZERO]] : tensor<4xf32>
// CHECK:         "chlo.erf"
// CHECK:         %[[C1:.*]] = stablehlo.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[ONE:.*]] = stablehlo.broadcast_in_dim %[[C1]], dims = [] : (tensor<f32>) -> tensor<4xf32>
// CHECK:         stablehlo.divide
// CHECK-NEXT:    %[[SIG:.*]] = stablehlo.logistic
// CHECK-NEXT:    %[[POS:.*]] = stablehlo.compare GT, %[[SIG]], %[[ZERO]]
// CHECK-NEXT:    stablehlo.select %[[POS]], %[[ONE]], %[[ZERO]]
// CHECK-NEXT:    stablehlo.exponential
// CHECK-NEXT:    stablehlo.log
// CHECK-NEXT:    stablehlo.sqrt
// CHECK-NEXT:    stablehlo.abs
// CHECK-NEXT:    stablehlo.tanh
// CHECK-NEXT:    stablehlo.sine
// CHECK-NEXT:    stablehlo.cosine
// CHECK-NEXT:    stablehlo.negate
func.func @unary(%X: tensor<4xf32>) -> tensor<4xf32> {
  %0 = fuse.unary relu %X : tensor<4xf32>
  %1 = fuse.unary gelu %0 : tensor<4xf32>
  %2 = fuse.unary sig %1 {temperature = 5.000000e-01 : f32} : tensor<4xf32>
  %3 = fuse.unary step %2 : tensor<4xf32>
  %4 = fuse.unary exp %3 : tensor<4xf32>
  %5 = fuse.unary log %4 : tensor<4xf32>
  %6 = fuse.unary sqrt %5 : tensor<4xf32>
  %7 = fuse.unary abs %6 : tensor<4xf32>
  %8 = fuse.unary tanh %7 : tensor<4xf32>
  %9 = fuse.unary sin %8 : tensor<4xf32>
  %10 = fuse.unary cos %9 : tensor<4xf32>
  %11 = fuse.unary neg %10 : tensor<4xf32>
  func.return %11 : tensor<4xf32>
}

// Stable softmax: max, subtract, exp, sum, divide. With a mask, masked
// scores are -inf (their weights exactly 0); an empty row's peak (-inf) is
// shifted by 0 and its sum (0) divided by 1, both tested per row. A mask
// computed from floats is materialized once, so every read of the scores
// sees the same bits (an index function's mask is exact and is not).
// CHECK-LABEL: func.func @softmax
// CHECK:         stablehlo.reduce(%X init: %{{.*}}) across dimensions = [1]
// CHECK:         stablehlo.maximum
// CHECK:         stablehlo.broadcast_in_dim %{{.*}}, dims = [0] : (tensor<4xf32>) -> tensor<4x6xf32>
// CHECK-NEXT:    stablehlo.subtract
// CHECK-NEXT:    stablehlo.exponential
// CHECK:         stablehlo.add
// CHECK:         stablehlo.divide
// CHECK:         %[[MASK:.*]] = stablehlo.optimization_barrier %M : tensor<4x6xf32>
// CHECK:         stablehlo.compare GT, %[[MASK]]
// CHECK:         %[[SCORES:.*]] = stablehlo.select
// CHECK:         stablehlo.maximum
// CHECK:         stablehlo.compare EQ, %{{.*}}, %{{.*}} : (tensor<4xf32>, tensor<4xf32>)
// CHECK:         stablehlo.select {{.*}} : tensor<4xi1>, tensor<4xf32>
// CHECK:         stablehlo.subtract %[[SCORES]]
// CHECK-NEXT:    stablehlo.exponential
// CHECK:         stablehlo.compare GT, %{{.*}}, %{{.*}} : (tensor<4xf32>, tensor<4xf32>)
// CHECK:         stablehlo.select {{.*}} : tensor<4xi1>, tensor<4xf32>
// CHECK-NEXT:    stablehlo.broadcast_in_dim
// CHECK-NEXT:    stablehlo.divide
func.func @softmax(%X: tensor<4x6xf32>, %M: tensor<4x6xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>) {
  %0 = fuse.normalize softmax axis 1 (%X) : (tensor<4x6xf32>) -> tensor<4x6xf32>
  %1 = fuse.normalize softmax axis 1 (%X, %M) : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  func.return %0, %1 : tensor<4x6xf32>, tensor<4x6xf32>
}

// A causal mask is an index function: integer compares, exact in every
// fusion, so it is not materialized.
// CHECK-LABEL: func.func @causal_softmax
// CHECK-NOT:     stablehlo.optimization_barrier
// CHECK:         stablehlo.divide
func.func @causal_softmax(%X: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %m = fuse.index_fn causal : tensor<4x4xf32>
  %0 = fuse.normalize softmax axis 1 (%X, %m) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  func.return %0 : tensor<4x4xf32>
}

// Layer norm: mean and population variance over the axis, then eps.
// CHECK-LABEL: func.func @lnorm
// CHECK:         stablehlo.constant dense<6.000000e+00>
// CHECK:         stablehlo.reduce(%X init
// CHECK:         stablehlo.subtract
// CHECK:         stablehlo.multiply
// CHECK:         stablehlo.reduce
// CHECK:         stablehlo.constant dense<1.000000e-03>
// CHECK:         stablehlo.sqrt
// CHECK-NEXT:    stablehlo.divide
func.func @lnorm(%X: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %0 = fuse.normalize lnorm axis 1 (%X) {eps = 1.000000e-03 : f32} : (tensor<4x6xf32>) -> tensor<4x6xf32>
  func.return %0 : tensor<4x6xf32>
}

// CHECK-LABEL: func.func @constant
// CHECK-NEXT:    %[[C:.*]] = stablehlo.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>
// CHECK-NEXT:    func.return %[[C]]
func.func @constant() -> tensor<3xf32> {
  %0 = fuse.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  func.return %0 : tensor<3xf32>
}

// Index functions: iota, compare, select of 1 and 0.
// CHECK-LABEL: func.func @index_fn
// CHECK:         stablehlo.iota dim = 0 : tensor<5xi32>
// CHECK-NEXT:    stablehlo.constant dense<2> : tensor<i32>
// CHECK:         stablehlo.remainder
// CHECK:         stablehlo.compare EQ
// CHECK:         stablehlo.select
// CHECK:         %[[R:.*]] = stablehlo.iota dim = 0 : tensor<4x4xi32>
// CHECK-NEXT:    %[[C:.*]] = stablehlo.iota dim = 1 : tensor<4x4xi32>
// CHECK-NEXT:    stablehlo.compare LE, %[[C]], %[[R]]
// CHECK:         stablehlo.constant dense<3> : tensor<i32>
// CHECK:         stablehlo.compare EQ
func.func @index_fn() -> (tensor<5xf32>, tensor<4x4xf32>, tensor<5xf32>) {
  %0 = fuse.index_fn even : tensor<5xf32>
  %1 = fuse.index_fn causal : tensor<4x4xf32>
  %2 = fuse.index_fn onehot {position = 3 : i64} : tensor<5xf32>
  func.return %0, %1, %2 : tensor<5xf32>, tensor<4x4xf32>, tensor<5xf32>
}

// CHECK-LABEL: func.func @take_concat
// CHECK-NEXT:    %[[S:.*]] = stablehlo.slice %A [3:4, 0:8] : (tensor<4x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    %[[R:.*]] = stablehlo.reshape %[[S]] : (tensor<1x8xf32>) -> tensor<8xf32>
// CHECK-NEXT:    stablehlo.concatenate %[[R]], %V, dim = 0 : (tensor<8xf32>, tensor<2xf32>) -> tensor<10xf32>
func.func @take_concat(%A: tensor<4x8xf32>, %V: tensor<2xf32>) -> tensor<10xf32> {
  %0 = fuse.take %A dim 0 index 3 : tensor<4x8xf32> -> tensor<8xf32>
  %1 = fuse.concat axis 0 (%0, %V) : (tensor<8xf32>, tensor<2xf32>) -> tensor<10xf32>
  func.return %1 : tensor<10xf32>
}

// topk: a stable descending sort of (value, position) ranks the entries; a
// second sort by position gives each entry its rank, and rank < k is kept.
// No value is compared after the sort.
// CHECK-LABEL: func.func @topk
// CHECK:         %[[P:.*]] = stablehlo.iota dim = 1 : tensor<4x6xi32>
// CHECK-NEXT:    %[[V:.*]], %[[I:.*]] = "stablehlo.sort"(%X, %[[P]]) <{dimension = 1 : i64, is_stable = true}>
// CHECK:           stablehlo.compare GT
// CHECK:         %[[ORDER:.*]] = stablehlo.iota dim = 1 : tensor<4x6xi32>
// CHECK-NEXT:    %{{.*}}, %[[RANK:.*]], %[[KEPT:.*]] = "stablehlo.sort"(%[[I]], %[[ORDER]], %[[V]])
// CHECK:           stablehlo.compare LT, %{{.*}}, %{{.*}} : (tensor<i32>, tensor<i32>)
// CHECK:         %[[K:.*]] = stablehlo.constant dense<2> : tensor<i32>
// CHECK-NEXT:    %[[KS:.*]] = stablehlo.broadcast_in_dim %[[K]]
// CHECK-NEXT:    %[[KEEP:.*]] = stablehlo.compare LT, %[[RANK]], %[[KS]]
// CHECK-NOT:     stablehlo.compare
// CHECK:         stablehlo.select %[[KEEP]], %[[KEPT]], %{{.*}}
// CHECK-NEXT:    func.return
func.func @topk(%X: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %0 = fuse.topk k 2 axis 1 %X : tensor<4x6xf32>
  func.return %0 : tensor<4x6xf32>
}
