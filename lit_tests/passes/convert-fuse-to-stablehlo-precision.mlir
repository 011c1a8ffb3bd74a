// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{precision=bf16}' | filecheck %s
// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{precision=fp16}' | filecheck %s --check-prefix=F16
// RUN: not fuse-opt %s -p 'convert-fuse-to-stablehlo{precision=fp64}' 2>&1 | filecheck %s --check-prefix=BAD
// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo' | filecheck %s --check-prefix=HIGHEST
// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{dot_precision=default}' | filecheck %s --check-prefix=DEFAULT
// RUN: not fuse-opt %s -p 'convert-fuse-to-stablehlo{dot_precision=high}' 2>&1 | filecheck %s --check-prefix=BADDOT
// Reduced precision: arguments are converted on entry, results back to the
// declared type; dot_general and sums accumulate in f32.

// CHECK-LABEL: func.func @main(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %[[A:.*]] = stablehlo.convert %A : (tensor<4x8xf32>) -> tensor<4x8xbf16>
// CHECK-NEXT:    %[[B:.*]] = stablehlo.convert %B : (tensor<8x3xf32>) -> tensor<8x3xbf16>
// CHECK-NEXT:    %[[D:.*]] = stablehlo.dot_general %[[A]], %[[B]], contracting_dims = [1] x [0] : (tensor<4x8xbf16>, tensor<8x3xbf16>) -> tensor<4x3xf32>
// CHECK-NEXT:    %[[Y:.*]] = stablehlo.convert %[[D]] : (tensor<4x3xf32>) -> tensor<4x3xbf16>
// CHECK-NEXT:    %[[Y32:.*]] = stablehlo.convert %[[Y]] : (tensor<4x3xbf16>) -> tensor<4x3xf32>
// CHECK-NEXT:    stablehlo.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[S:.*]] = stablehlo.reduce(%[[Y32]] init: %{{.*}}) across dimensions = [1] : (tensor<4x3xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK:         %[[S16:.*]] = stablehlo.convert %[[S]] : (tensor<4xf32>) -> tensor<4xbf16>
// CHECK:         %[[R:.*]] = stablehlo.convert %{{.*}} : (tensor<4xbf16>) -> tensor<4xf32>
// CHECK-NEXT:    func.return %[[R]] : tensor<4xf32>

// F16:  stablehlo.dot_general {{.*}} : (tensor<4x8xf16>, tensor<8x3xf16>) -> tensor<4x3xf32>

// BAD: precision 'fp64' is not one of fp32, bf16, fp16

// fp32 dots ask for HIGHEST unless dot_precision=default (the jax backend's
// choice on CPU) leaves the precision to XLA.
// HIGHEST: stablehlo.dot_general %A, %B, contracting_dims = [1] x [0], precision = [HIGHEST, HIGHEST] : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
// DEFAULT: stablehlo.dot_general %A, %B, contracting_dims = [1] x [0] : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
// BADDOT: dot_precision 'high' is not one of highest, default
func.func @main(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) -> tensor<4xf32> {
  %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %1 = fuse.einsum "ij->i" sum (%0) : (tensor<4x3xf32>) -> tensor<4xf32>
  %2 = fuse.unary exp %1 : tensor<4xf32>
  func.return %2 : tensor<4xf32>
}
