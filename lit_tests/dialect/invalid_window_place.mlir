// Verifier errors of fuse.window and fuse.place, one per chunk.
// RUN: fuse-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

func.func @main(%x: tensor<8xf32>) -> tensor<7x3xf32> {
  %w = fuse.window %x affine_map<(d0, d1) -> (d0 + d1)> : tensor<8xf32> -> tensor<7x3xf32>
  func.return %w : tensor<7x3xf32>
}

// CHECK: fuse.window map reaches positions 0..8 of dimension 0, which has size 8

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<6xf32> {
  %w = fuse.window %x affine_map<(d0, d1) -> (d0 + d1)> : tensor<8xf32> -> tensor<6xf32>
  func.return %w : tensor<6xf32>
}

// CHECK: fuse.window map takes 2 dimensions, but the result has rank 1

// -----

func.func @main(%x: tensor<8x2xf32>) -> tensor<6xf32> {
  %w = fuse.window %x affine_map<(d0) -> (d0)> : tensor<8x2xf32> -> tensor<6xf32>
  func.return %w : tensor<6xf32>
}

// CHECK: fuse.window map gives 1 positions, but the indexed tensor has rank 2

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %w = fuse.window %x affine_map<(d0) -> (d0 mod 2)> : tensor<8xf32> -> tensor<4xf32>
  func.return %w : tensor<4xf32>
}

// CHECK: fuse.window map is not supported: '(d0 mod 2)' is not a sum of constant multiples of dimensions

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<3xf32> {
  %p = fuse.place %x affine_map<(d0) -> (d0 floordiv 2)> max : tensor<8xf32> -> tensor<3xf32>
  func.return %p : tensor<3xf32>
}

// CHECK: fuse.place map reaches positions 0..3 of dimension 0, which has size 3

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %p = fuse.place %x affine_map<(d0) -> (d0 floordiv 2)> min : tensor<8xf32> -> tensor<4xf32>
  func.return %p : tensor<4xf32>
}

// CHECK: unknown fuse.place kind 'min', expected one of sum, max, mean

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %p = fuse.place %x 3 sum : tensor<8xf32> -> tensor<4xf32>
  func.return %p : tensor<4xf32>
}

// CHECK: expected an affine_map, got 3 : i64

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %w = fuse.window %x "d0" : tensor<8xf32> -> tensor<4xf32>
  func.return %w : tensor<4xf32>
}

// CHECK: expected an affine_map, got "d0"
