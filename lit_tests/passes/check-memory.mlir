// RUN: fuse-opt %s -p 'fuse-check-memory{limit=1000000}' | filecheck %s --check-prefix=FITS
// RUN: fuse-opt %s -p 'fuse-check-memory{limit=30000 backend=numpy}' --verify-diagnostics | filecheck %s --check-prefix=RESULT
// RUN: fuse-opt %s -p 'fuse-check-memory{limit=100000 backend=jax}' --verify-diagnostics | filecheck %s --check-prefix=JAX
// RUN: fuse-opt %s -p 'fuse-check-memory{limit=100000 backend=numpy}' | filecheck %s --check-prefix=FITS

// fuse-check-memory refuses a plan with an array over `limit` bytes: an op
// result (S, 100x100 fp32 = 40000 bytes), or a step a backend makes inside an
// einsum. Without a path, JAX contracts %A and %B first (an outer product of
// 50x10x10x50 fp32 = 1000000 bytes); NumPy and Torch take opt_einsum's path,
// whose steps are small. The pass leaves a plan that fits unchanged.
builtin.module {
  func.func @main(%A: tensor<50x10xf32>, %B: tensor<10x50xf32>, %C: tensor<10x10xf32>) -> (tensor<50x50xf32>, tensor<100x100xf32>) {
    %Y = fuse.einsum "ij,kl,jk->il" sum (%A, %B, %C) : (tensor<50x10xf32>, tensor<10x50xf32>, tensor<10x10xf32>) -> tensor<50x50xf32> loc("m.fuse":3:1)
    %S = fuse.constant dense<1.0> : tensor<100x100xf32> loc("m.fuse":4:1)
    func.return %Y, %S : tensor<50x50xf32>, tensor<100x100xf32>
  }
}

// FITS: %Y = fuse.einsum "ij,kl,jk->il" sum (%A, %B, %C)

// RESULT: m.fuse:4:1: the equation for 'S' needs a result of shape [100x100]: 39.1 KiB (40000 bytes), over the memory limit of 29.3 KiB (30000 bytes)

// JAX: m.fuse:3:1: the equation for 'Y' needs a pairwise contraction of shape [50x10x10x50]: 976.6 KiB (1000000 bytes), over the memory limit of 97.7 KiB (100000 bytes)
