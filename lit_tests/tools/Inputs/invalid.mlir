// Parses, but does not verify: the einsum names one operand and has two.
func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) {
  %0 = fuse.einsum "ik->i" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4xf32>
  func.return
}
