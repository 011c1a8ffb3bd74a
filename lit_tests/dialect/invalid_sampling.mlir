// Verifier errors of fuse.sample and fuse.gather, one per chunk.
// RUN: fuse-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @f(%q: tensor<10xf32>) {
  %0 = fuse.sample %q samples 0 seed 1 : tensor<10xf32> -> tensor<0xi32>
  func.return
}

// CHECK: fuse.sample needs samples >= 1, got 0

// -----

func.func @f(%q: tensor<10xf32>) {
  %0 = fuse.sample %q samples 4 seed -1 : tensor<10xf32> -> tensor<4xi32>
  func.return
}

// CHECK: fuse.sample needs a seed >= 0, got -1

// -----

func.func @f(%q: tensor<10x2xf32>) {
  %0 = fuse.sample %q samples 4 seed 1 : tensor<10x2xf32> -> tensor<4xi32>
  func.return
}

// CHECK: fuse.sample draws from a rank-1 tensor of weights

// -----

func.func @f(%q: tensor<10xf32>) {
  %0 = fuse.sample %q samples 4 seed 1 : tensor<10xf32> -> tensor<5xi32>
  func.return
}

// CHECK: fuse.sample result must be tensor<4xi32>, got tensor<5xi32>

// -----

func.func @f(%X: tensor<4x10xf32>, %i: tensor<3xi32>) {
  %0 = fuse.gather %X dim 2 (%i) : (tensor<4x10xf32>, tensor<3xi32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.gather dim 2 is out of range for rank 2

// -----

func.func @f(%X: tensor<4x10xf32>, %i: tensor<3xf32>) {
  %0 = fuse.gather %X dim 1 (%i) : (tensor<4x10xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  func.return
}

// CHECK: fuse.gather indices must be a rank-1 integer tensor, got tensor<3xf32>

// -----

func.func @f(%X: tensor<4x10xf32>, %i: tensor<3xi32>) {
  %0 = fuse.gather %X dim 1 (%i) : (tensor<4x10xf32>, tensor<3xi32>) -> tensor<4x10xf32>
  func.return
}

// CHECK: fuse.gather result must be tensor<4x3xf32>, got tensor<4x10xf32>
