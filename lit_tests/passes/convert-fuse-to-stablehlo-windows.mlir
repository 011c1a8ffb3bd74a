// RUN: fuse-opt %s -p convert-fuse-to-stablehlo --print-op-generic | filecheck %s

// Windows and places in StableHLO (docs/index_arithmetic.md): a window
// whose positions each follow one dimension is a strided slice; one that
// adds dimensions (a convolution's x + dx) is a gather from the flattened
// operand; a place that shifts and permutes is a transpose and a pad; one
// that combines (pooling) gathers each result element's sources and
// reduces them.
func.func @main(%X: tensor<5x4xf32>, %F: tensor<7xf32>) -> (tensor<3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<4xf32>) {
  %s = fuse.window %X affine_map<(d0) -> (d0 * 2, 1)> : tensor<5x4xf32> -> tensor<3xf32>
  %w = fuse.window %F affine_map<(d0, d1) -> (d0 + d1)> : tensor<7xf32> -> tensor<4x3xf32>
  %p = fuse.place %X affine_map<(d0, d1) -> (d1, d0 + 1)> sum : tensor<5x4xf32> -> tensor<4x6xf32>
  %m = fuse.place %F affine_map<(d0) -> (d0 floordiv 2)> max : tensor<7xf32> -> tensor<4xf32>
  func.return %s, %w, %p, %m : tensor<3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<4xf32>
}

// CHECK:      "stablehlo.slice"(%{{.*}}) <{start_indices = array<i64: 0, 1>, limit_indices = array<i64: 5, 2>, strides = array<i64: 2, 1>}> : (tensor<5x4xf32>) -> tensor<3x1xf32>
// CHECK:      "stablehlo.gather"
// CHECK-SAME: -> tensor<12xf32>
// CHECK:      "stablehlo.transpose"(%{{.*}}) <{permutation = array<i64: 1, 0>}> : (tensor<5x4xf32>) -> tensor<4x5xf32>
// CHECK:      "stablehlo.concatenate"(%{{.*}}, %{{.*}}) <{dimension = 1 : i64}> : (tensor<4x1xf32>, tensor<4x5xf32>) -> tensor<4x6xf32>
// CHECK:      "stablehlo.gather"
// CHECK-SAME: -> tensor<8xf32>
// CHECK:      "stablehlo.reduce"
// CHECK:      stablehlo.maximum
