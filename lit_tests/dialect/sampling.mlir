// fuse.sample and fuse.gather: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @sampling
func.func @sampling(%q: tensor<1000xf32>, %X: tensor<4x1000xf32>, %D: tensor<?x?xf32>) -> tensor<4x64xf32> {
  // CHECK-NEXT: %idx = fuse.sample %q samples 64 seed 7 : tensor<1000xf32> -> tensor<64xi32>
  // CHECK-NEXT: %one = fuse.sample %q samples 1 seed 0 {note = 1 : i64} : tensor<1000xf32> -> tensor<1xi32>
  %idx = fuse.sample %q samples 64 seed 7 : tensor<1000xf32> -> tensor<64xi32>
  %one = fuse.sample %q samples 1 seed 0 {note = 1 : i64} : tensor<1000xf32> -> tensor<1xi32>

  // CHECK-NEXT: %g = fuse.gather %X dim 1 (%idx) : (tensor<4x1000xf32>, tensor<64xi32>) -> tensor<4x64xf32>
  // CHECK-NEXT: %w = fuse.gather %q dim 0 (%idx) {note = 2 : i64} : (tensor<1000xf32>, tensor<64xi32>) -> tensor<64xf32>
  // CHECK-NEXT: %dyn = fuse.gather %D dim 0 (%one) : (tensor<?x?xf32>, tensor<1xi32>) -> tensor<1x?xf32>
  %g = fuse.gather %X dim 1 (%idx) : (tensor<4x1000xf32>, tensor<64xi32>) -> tensor<4x64xf32>
  %w = fuse.gather %q dim 0 (%idx) {note = 2 : i64} : (tensor<1000xf32>, tensor<64xi32>) -> tensor<64xf32>
  %dyn = fuse.gather %D dim 0 (%one) : (tensor<?x?xf32>, tensor<1xi32>) -> tensor<1x?xf32>
  func.return %g : tensor<4x64xf32>
}

// GENERIC: "fuse.sample"(%q) <{samples = 64 : i64, seed = 7 : i64}> : (tensor<1000xf32>) -> tensor<64xi32>
// GENERIC: "fuse.gather"(%X, %idx) <{dim = 1 : i64}> : (tensor<4x1000xf32>, tensor<64xi32>) -> tensor<4x64xf32>
