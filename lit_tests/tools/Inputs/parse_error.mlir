func.func @f(%A: tensor<4xf32>) {
  %0 = fuse.unary relu %A : tensor<4xf32>
  %1 = fuse.no_such_op %0 : tensor<4xf32>
  func.return
}
