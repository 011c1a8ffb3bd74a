// fuse.constant and fuse.index_fn: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @constants
func.func @constants() -> tensor<2x2xf32> {
  // CHECK-NEXT: %c = fuse.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
  // CHECK-NEXT: %s = fuse.constant dense<5.000000e-01> : tensor<f32> {note = 1 : i64}
  // CHECK-NEXT: %z = fuse.constant dense<0.000000e+00> : tensor<3x4xf32>
  // CHECK-NEXT: %i = fuse.constant dense<[1, 2, 3]> : tensor<3xi32>
  %c = fuse.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %s = fuse.constant dense<0.5> : tensor<f32> {note = 1 : i64}
  %z = fuse.constant dense<0.0> : tensor<3x4xf32>
  %i = fuse.constant dense<[1, 2, 3]> : tensor<3xi32>

  // CHECK-NEXT: %even = fuse.index_fn even : tensor<6xf32>
  // CHECK-NEXT: %odd = fuse.index_fn odd {note = 2 : i64} : tensor<?xf32>
  // CHECK-NEXT: %causal = fuse.index_fn causal : tensor<8x8xf32>
  // CHECK-NEXT: %hot = fuse.index_fn onehot {position = 3 : i64} : tensor<5xf32>
  // CHECK-NEXT: %pos = fuse.index_fn iota : tensor<7xf32>
  %even = fuse.index_fn even : tensor<6xf32>
  %odd = fuse.index_fn odd {note = 2 : i64} : tensor<?xf32>
  %causal = fuse.index_fn causal : tensor<8x8xf32>
  %hot = fuse.index_fn onehot {position = 3 : i64} : tensor<5xf32>
  %pos = fuse.index_fn iota : tensor<7xf32>
  func.return %c : tensor<2x2xf32>
}

// GENERIC: "fuse.constant"() <{value = dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
// GENERIC: "fuse.index_fn"() <{fn = "even"}> : () -> tensor<6xf32>
// GENERIC: "fuse.index_fn"() <{fn = "onehot", position = 3 : i64}> : () -> tensor<5xf32>
