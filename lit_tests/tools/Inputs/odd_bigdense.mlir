func.func @f() -> tensor<99999999999x99999999999xf32> {
  %0 = arith.constant dense<1.0> : tensor<99999999999x99999999999xf32>
  func.return %0 : tensor<99999999999x99999999999xf32>
}
