// fuse.conv as stablehlo.convolution: the op's layout as the dimension
// numbers; a grouped convolution folds its groups into the features, groups
// first, and sets feature_group_count.
// RUN: fuse-opt %s -p convert-fuse-to-stablehlo | filecheck %s

// CHECK-LABEL: func.func @grouped
// The input's g and f are adjacent already (b0gf): one reshape merges them.
// CHECK:      %[[X:.*]] = stablehlo.reshape %{{.*}} : (tensor<2x9x2x3xf32>) -> tensor<2x9x6xf32>
// The filter's g moves next to its o (0gio -> 0igo), then merges with it.
// CHECK-NEXT: %[[WT:.*]] = stablehlo.transpose %{{.*}}, dims = [0, 2, 1, 3] : (tensor<3x2x3x4xf32>) -> tensor<3x3x2x4xf32>
// CHECK-NEXT: %[[W:.*]] = stablehlo.reshape %[[WT]] : (tensor<3x3x2x4xf32>) -> tensor<3x3x8xf32>
// CHECK-NEXT: %[[C:.*]] = "stablehlo.convolution"(%[[X]], %[[W]]) <{dimension_numbers = #stablehlo.conv<[b, 0, f]x[0, i, o]->[b, 0, f]>,
// CHECK-SAME: feature_group_count = 2 : i64
// CHECK-SAME: : (tensor<2x9x6xf32>, tensor<3x3x8xf32>) -> tensor<2x7x8xf32>
// CHECK-NEXT: %{{.*}} = stablehlo.reshape %[[C]] : (tensor<2x7x8xf32>) -> tensor<2x7x2x4xf32>
func.func @grouped(%x: tensor<2x9x2x3xf32>, %w: tensor<3x2x3x4xf32>) -> tensor<2x7x2x4xf32> {
  %y = fuse.conv %x, %w "b0gf,0gio->b0gf" strides [1] dilations [1] : (tensor<2x9x2x3xf32>, tensor<3x2x3x4xf32>) -> tensor<2x7x2x4xf32>
  func.return %y : tensor<2x7x2x4xf32>
}
