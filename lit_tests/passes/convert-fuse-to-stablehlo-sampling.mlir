// RUN: fuse-opt %s -p convert-fuse-to-stablehlo | filecheck %s
// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{precision=bf16}' | filecheck %s --check-prefix=BF16
// fuse.sample (inverse CDF over rng_bit_generator uniforms) and fuse.gather.

// The CDF is a prefix sum of log2(5) = 3 shifted adds, materialized so that
// the total is its last entry bit for bit; THREE_FRY bits from
// the state [seed, 0], their top 24 bits scaled into [0, 1); sample s counts
// the CDF entries <= u_s * total, clamped to 4.
// CHECK-LABEL: func.func @sample
// CHECK:         %[[C1:.*]] = stablehlo.add %q, %{{.*}} : tensor<5xf32>
// CHECK:         %[[C2:.*]] = stablehlo.add %[[C1]], %{{.*}} : tensor<5xf32>
// CHECK:         %[[SUMS:.*]] = stablehlo.add %[[C2]], %{{.*}} : tensor<5xf32>
// CHECK-NEXT:    %[[CDF:.*]] = stablehlo.optimization_barrier %[[SUMS]] : tensor<5xf32>
// CHECK-NEXT:    %[[LAST:.*]] = stablehlo.slice %[[CDF]] [4:5]
// CHECK-NEXT:    %[[TOTAL:.*]] = stablehlo.reshape %[[LAST]] : (tensor<1xf32>) -> tensor<f32>
// CHECK-NEXT:    %[[STATE:.*]] = stablehlo.constant dense<[7, 0]> : tensor<2xui64>
// CHECK-NEXT:    %{{.*}}, %[[BITS:.*]] = "stablehlo.rng_bit_generator"(%[[STATE]]) <{rng_algorithm = #stablehlo<rng_algorithm THREE_FRY>}> : (tensor<2xui64>) -> (tensor<2xui64>, tensor<3xui32>)
// CHECK:         stablehlo.shift_right_logical %[[BITS]], %{{.*}} : tensor<3xui32>
// CHECK:         stablehlo.constant dense<5.96046448e-08> : tensor<f32>
// CHECK:         %[[LE:.*]] = stablehlo.compare LE, %{{.*}}, %{{.*}} : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xi1>
// CHECK:         %[[COUNT:.*]] = stablehlo.reduce(%{{.*}} init: %{{.*}}) across dimensions = [1] : (tensor<3x5xi32>, tensor<i32>) -> tensor<3xi32>
// CHECK:         stablehlo.constant dense<4> : tensor<i32>
// CHECK:         %[[IDX:.*]] = stablehlo.minimum %[[COUNT]], %{{.*}} : tensor<3xi32>
// CHECK-NEXT:    %[[STARTS:.*]] = stablehlo.reshape %[[IDX]] : (tensor<3xi32>) -> tensor<3x1xi32>
// CHECK-NEXT:    %[[G:.*]] = "stablehlo.gather"(%X, %[[STARTS]]) <{dimension_numbers = #stablehlo.gather<offset_dims = [0, 2], collapsed_slice_dims = [1], start_index_map = [1], index_vector_dim = 1>, slice_sizes = array<i64: 2, 1, 4>}> : (tensor<2x5x4xf32>, tensor<3x1xi32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %[[G]] : tensor<2x3x4xf32>
func.func @sample(%q: tensor<5xf32>, %X: tensor<2x5x4xf32>) -> tensor<2x3x4xf32> {
  %idx = fuse.sample %q samples 3 seed 7 : tensor<5xf32> -> tensor<3xi32>
  %g = fuse.gather %X dim 1 (%idx) : (tensor<2x5x4xf32>, tensor<3xi32>) -> tensor<2x3x4xf32>
  func.return %g : tensor<2x3x4xf32>
}

// Reduced precision: the weights are summed in f32; the gathered operand
// keeps the compute type.
// BF16-LABEL: func.func @weights
// BF16:         %[[Q:.*]] = stablehlo.convert %q : (tensor<5xf32>) -> tensor<5xbf16>
// BF16:         stablehlo.convert %[[Q]] : (tensor<5xbf16>) -> tensor<5xf32>
// BF16:         "stablehlo.gather"(%[[Q]], %{{.*}}) {{.*}} : (tensor<5xbf16>, tensor<3x1xi32>) -> tensor<3xbf16>
func.func @weights(%q: tensor<5xf32>) -> tensor<3xf32> {
  %idx = fuse.sample %q samples 3 seed 7 : tensor<5xf32> -> tensor<3xi32>
  %g = fuse.gather %q dim 0 (%idx) : (tensor<5xf32>, tensor<3xi32>) -> tensor<3xf32>
  func.return %g : tensor<3xf32>
}
