func.func @f(%A: tensor<4xf32>) -> tensor<4xf32> {
  %0 = fuse.einsum "i,i->i" sum (%A, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
