// RUN: fuse-opt %s -p 'fuse-check-memory{limit=500000 backend=torch}' | filecheck %s --check-prefix=TORCH
// RUN: fuse-opt %s -p 'fuse-check-memory{limit=500000 backend=numpy}' --verify-diagnostics | filecheck %s --check-prefix=NUMPY

// fuse-check-memory counts the matrix of windows the NumPy backend multiplies
// by the filter of a fuse.conv: one row per batch element and output position
// (4 x 32 x 32), of 3 x 3 x 8 values (1179648 bytes), far more than the
// 262144-byte result; torch and XLA convolve without it.
builtin.module {
  func.func @main(%X: tensor<4x34x34x8xf32>, %K: tensor<3x3x8x16xf32>) -> tensor<4x32x32x16xf32> {
    %Y = fuse.conv %X, %K "b01f,01io->b01f" strides [1, 1] dilations [1, 1] : (tensor<4x34x34x8xf32>, tensor<3x3x8x16xf32>) -> tensor<4x32x32x16xf32> loc("c.fuse":1:1)
    func.return %Y : tensor<4x32x32x16xf32>
  }
}

// TORCH: fuse.conv
// NUMPY: c.fuse:1:1: the equation for 'Y' needs a matrix of windows (im2col) of shape [4096x72]: 1.1 MiB (1179648 bytes), over the memory limit of 488.3 KiB (500000 bytes)
