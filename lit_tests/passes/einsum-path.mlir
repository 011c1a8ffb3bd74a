// RUN: fuse-opt %s -p 'fuse-einsum-path{strategy=greedy}' | filecheck %s

// The issue's chain: two GEMMs of 64x1024x32 and a small one, instead of one
// contraction over all five letters. Each step records its flops; the final
// one the whole tree as an opt_einsum path over the original operands.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    %[[AB:.*]] = fuse.einsum "ab,bc->ac" sum (%A, %B) {flops = 4194304 : i64} : (tensor<64x1024xf32>, tensor<1024x32xf32>) -> tensor<64x32xf32>
// CHECK-NEXT:    %[[CE:.*]] = fuse.einsum "cd,de->ce" sum (%C, %E) {flops = 4194304 : i64} : (tensor<32x1024xf32>, tensor<1024x64xf32>) -> tensor<32x64xf32>
// CHECK-NEXT:    %D = fuse.einsum "ac,ce->ae" sum (%[[AB]], %[[CE]]) {fuse.contraction_path = {{\[}}[0 : i64, 1 : i64], [0 : i64, 1 : i64], [0 : i64, 1 : i64]], flops = 262144 : i64} : (tensor<64x32xf32>, tensor<32x64xf32>) -> tensor<64x64xf32>
// CHECK-NEXT:    func.return %D
func.func @chain(%A: tensor<64x1024xf32>, %B: tensor<1024x32xf32>, %C: tensor<32x1024xf32>, %E: tensor<1024x64xf32>) -> tensor<64x64xf32> {
  %D = fuse.einsum "ab,bc,cd,de->ae" sum (%A, %B, %C, %E) : (tensor<64x1024xf32>, tensor<1024x32xf32>, tensor<32x1024xf32>, tensor<1024x64xf32>) -> tensor<64x64xf32>
  func.return %D : tensor<64x64xf32>
}

// Scalars are multiplied together first, then into the smallest tensor of
// the tree: here the 10-element intermediate, not the 10x1000 operand or
// the 10x1000 result.
// CHECK-LABEL: func.func @scalar_into_intermediate
// CHECK-NEXT:    %two = fuse.constant
// CHECK-NEXT:    %[[S:.*]] = fuse.einsum ",->" sum (%two, %s) {flops = 1 : i64} : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    %[[AV:.*]] = fuse.einsum "ab,b->a" sum (%A, %v) {flops = 20000 : i64} : (tensor<10x1000xf32>, tensor<1000xf32>) -> tensor<10xf32>
// CHECK-NEXT:    %[[SAV:.*]] = fuse.einsum "a,->a" sum (%[[AV]], %[[S]]) {flops = 10 : i64} : (tensor<10xf32>, tensor<f32>) -> tensor<10xf32>
// CHECK-NEXT:    %y = fuse.einsum "a,c->ac" sum (%[[SAV]], %w) {fuse.contraction_path = {{\[}}[0 : i64, 3 : i64], [0 : i64, 1 : i64], [2 : i64, 1 : i64], [1 : i64, 0 : i64]], flops = 10000 : i64} : (tensor<10xf32>, tensor<1000xf32>) -> tensor<10x1000xf32>
func.func @scalar_into_intermediate(%s: tensor<f32>, %A: tensor<10x1000xf32>, %v: tensor<1000xf32>, %w: tensor<1000xf32>) -> tensor<10x1000xf32> {
  %two = fuse.constant dense<2.0> : tensor<f32>
  %y = fuse.einsum ",ab,b,,c->ac" sum (%two, %A, %v, %s, %w) : (tensor<f32>, tensor<10x1000xf32>, tensor<1000xf32>, tensor<f32>, tensor<1000xf32>) -> tensor<10x1000xf32>
  func.return %y : tensor<10x1000xf32>
}

// An outer product: the smallest tensor is an operand, so it takes the scalar.
// CHECK-LABEL: func.func @scalar_into_operand
// CHECK-NEXT:    %[[SU:.*]] = fuse.einsum "a,->a" sum (%u, %s) {flops = 4 : i64} : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK-NEXT:    %y = fuse.einsum "a,b->ab" sum (%[[SU]], %w) {fuse.contraction_path = {{\[}}[1 : i64, 0 : i64], [1 : i64, 0 : i64]], flops = 400 : i64} : (tensor<4xf32>, tensor<100xf32>) -> tensor<4x100xf32>
func.func @scalar_into_operand(%s: tensor<f32>, %u: tensor<4xf32>, %w: tensor<100xf32>) -> tensor<4x100xf32> {
  %y = fuse.einsum ",a,b->ab" sum (%s, %u, %w) : (tensor<f32>, tensor<4xf32>, tensor<100xf32>) -> tensor<4x100xf32>
  func.return %y : tensor<4x100xf32>
}

// Two operands are already one step; max does not distribute over a product
// of values of either sign; dynamic sizes give opt_einsum nothing to weigh.
// CHECK-LABEL: func.func @left_alone
// CHECK-NEXT:    %two = fuse.einsum "ab,bc->ac" sum (%A, %B) :
// CHECK-NEXT:    %max = fuse.einsum "ab,bc,cd->ad" max (%A, %B, %C) :
// CHECK-NEXT:    %dyn = fuse.einsum "ab,bc,cd->ad" sum (%X, %B, %C) :
// CHECK-NEXT:    func.return
func.func @left_alone(%A: tensor<4x5xf32>, %B: tensor<5x6xf32>, %C: tensor<6x7xf32>, %X: tensor<?x5xf32>) -> (tensor<4x6xf32>, tensor<4x7xf32>, tensor<?x7xf32>) {
  %two = fuse.einsum "ab,bc->ac" sum (%A, %B) : (tensor<4x5xf32>, tensor<5x6xf32>) -> tensor<4x6xf32>
  %max = fuse.einsum "ab,bc,cd->ad" max (%A, %B, %C) : (tensor<4x5xf32>, tensor<5x6xf32>, tensor<6x7xf32>) -> tensor<4x7xf32>
  %dyn = fuse.einsum "ab,bc,cd->ad" sum (%X, %B, %C) : (tensor<?x5xf32>, tensor<5x6xf32>, tensor<6x7xf32>) -> tensor<?x7xf32>
  func.return %two, %max, %dyn : tensor<4x6xf32>, tensor<4x7xf32>, tensor<?x7xf32>
}

// A mean is a sum times 1/count (5 * 6 * 8 = 240 projected positions),
// placed like any scalar. A letter only one operand has (d) is summed out
// of it before any join, so opt_einsum weighs the sizes that really meet.
// CHECK-LABEL: func.func @mean
// CHECK-NEXT:    %[[K:.*]] = fuse.constant dense<0.00416666688> : tensor<f32>
// CHECK-NEXT:    %[[C:.*]] = fuse.einsum "cd->c" sum (%C) {flops = 96 : i64}
// CHECK-NEXT:    %[[BC:.*]] = fuse.einsum "bc,c->b" sum (%B, %[[C]]) {flops = 60 : i64}
// CHECK-NEXT:    %[[ABC:.*]] = fuse.einsum "ab,b->a" sum (%A, %[[BC]]) {flops = 40 : i64}
// CHECK-NEXT:    %m = fuse.einsum "a,->a" sum (%[[ABC]], %[[K]]) {fuse.contraction_path = {{\[}}[2 : i64], [1 : i64, 3 : i64], [0 : i64, 2 : i64], [1 : i64, 0 : i64]], flops = 4 : i64}
func.func @mean(%A: tensor<4x5xf32>, %B: tensor<5x6xf32>, %C: tensor<6x8xf32>) -> tensor<4xf32> {
  %m = fuse.einsum "ab,bc,cd->a" mean (%A, %B, %C) : (tensor<4x5xf32>, tensor<5x6xf32>, tensor<6x8xf32>) -> tensor<4xf32>
  func.return %m : tensor<4xf32>
}

// A one-operand einsum with the same subscripts in and out is its operand.
// CHECK-LABEL: func.func @identity
// CHECK-NEXT:    %t = fuse.einsum "ab->ba" sum (%A)
// CHECK-NEXT:    %r = fuse.einsum "ab->a" sum (%A)
// CHECK-NEXT:    func.return %A, %t, %r
func.func @identity(%A: tensor<4x5xf32>) -> (tensor<4x5xf32>, tensor<5x4xf32>, tensor<4xf32>) {
  %same = fuse.einsum "ab->ab" sum (%A) : (tensor<4x5xf32>) -> tensor<4x5xf32>
  %t = fuse.einsum "ab->ba" sum (%same) : (tensor<4x5xf32>) -> tensor<5x4xf32>
  %r = fuse.einsum "ab->a" sum (%same) : (tensor<4x5xf32>) -> tensor<4xf32>
  func.return %same, %t, %r : tensor<4x5xf32>, tensor<5x4xf32>, tensor<4xf32>
}

// Einsums inside fixpoint bodies are split too. The operand holding the
// result's first letter goes first, so the last GEMM needs no transpose.
// CHECK-LABEL: func.func @fixpoint
// CHECK:         %[[P:.*]] = fuse.einsum "xy,yz->xz" sum (%path, %E) {flops = 250 : i64}
// CHECK-NEXT:    %[[Q:.*]] = fuse.einsum "xz,zw->xw" sum (%[[P]], %E) {fuse.contraction_path = {{\[}}[0 : i64, 1 : i64], [1 : i64, 0 : i64]], flops = 250 : i64}
// CHECK-NEXT:    fuse.yield %[[Q]]
func.func @fixpoint(%E: tensor<5x5xf32>) -> tensor<5x5xf32> {
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<5x5xf32> {
  ^bb0(%path: tensor<5x5xf32>):
    %0 = fuse.einsum "xy,yz,zw->xw" sum (%path, %E, %E) : (tensor<5x5xf32>, tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
    fuse.yield %0 : tensor<5x5xf32>
  }
  func.return %p : tensor<5x5xf32>
}
