// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{probe_sizes=true}' --print-op-generic | filecheck %s

// The windows and places of convert-fuse-to-stablehlo-windows.mlir in a plan
// at probe sizes (docs/export.md): no constant table, whose shape and values
// would follow the symbols. A strided slice runs to the end of its dimension
// and is cut to the window's count; a window that adds dimensions gathers
// through positions made from iotas, from a slice up to the highest position
// it reads; a place that combines scatters through such positions (max also
// counts its operands, so that positions none reaches are zero). A place that
// shifts stays a transpose and a padding.
func.func @main(%X: tensor<5x4xf32>, %F: tensor<7xf32>) -> (tensor<3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<4xf32>) {
  %s = fuse.window %X affine_map<(d0) -> (d0 * 2, 1)> : tensor<5x4xf32> -> tensor<3xf32>
  %w = fuse.window %F affine_map<(d0, d1) -> (d0 + d1)> : tensor<7xf32> -> tensor<4x3xf32>
  %p = fuse.place %X affine_map<(d0, d1) -> (d1, d0 + 1)> sum : tensor<5x4xf32> -> tensor<4x6xf32>
  %m = fuse.place %F affine_map<(d0) -> (d0 floordiv 2)> max : tensor<7xf32> -> tensor<4xf32>
  func.return %s, %w, %p, %m : tensor<3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<4xf32>
}

// CHECK-NOT:  dense<[
// CHECK:      "stablehlo.slice"(%{{.*}}) <{start_indices = array<i64: 0, 1>, limit_indices = array<i64: 5, 2>, strides = array<i64: 2, 1>}> : (tensor<5x4xf32>) -> tensor<3x1xf32>
// CHECK:      "stablehlo.slice"(%{{.*}}) <{start_indices = array<i64: 0, 0>, limit_indices = array<i64: 3, 1>, strides = array<i64: 1, 1>}> : (tensor<3x1xf32>) -> tensor<3x1xf32>
// CHECK:      "stablehlo.slice"(%{{.*}}) <{start_indices = array<i64: 0>, limit_indices = array<i64: 6>, strides = array<i64: 1>}> : (tensor<7xf32>) -> tensor<6xf32>
// CHECK:      "stablehlo.iota"() <{iota_dimension = 0 : i64}> : () -> tensor<4x3xi32>
// CHECK:      "stablehlo.iota"() <{iota_dimension = 1 : i64}> : () -> tensor<4x3xi32>
// CHECK:      "stablehlo.gather"(%{{.*}}, %{{.*}}) <{dimension_numbers = #stablehlo.gather<collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, slice_sizes = array<i64: 1>}> : (tensor<6xf32>, tensor<4x3x1xi32>) -> tensor<4x3xf32>
// CHECK:      "stablehlo.transpose"(%{{.*}}) <{permutation = array<i64: 1, 0>}> : (tensor<5x4xf32>) -> tensor<4x5xf32>
// CHECK:      "stablehlo.scatter"
// CHECK:      stablehlo.maximum
// CHECK:      (tensor<4xf32>, tensor<7x1xi32>, tensor<7xf32>) -> tensor<4xf32>
// CHECK:      "stablehlo.scatter"
// CHECK:      stablehlo.add
// CHECK:      "stablehlo.select"
// CHECK-NOT:  "stablehlo.gather"
