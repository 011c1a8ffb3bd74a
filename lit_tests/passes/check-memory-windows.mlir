// RUN: fuse-opt %s -p 'fuse-check-memory{limit=70000}' | filecheck %s --check-prefix=FITS
// RUN: fuse-opt %s -p 'fuse-check-memory{limit=20000}' --verify-diagnostics | filecheck %s --check-prefix=WINDOW
// RUN: fuse-opt %s -p 'fuse-check-memory{limit=30000}' --verify-diagnostics | filecheck %s --check-prefix=PLACE

// fuse-check-memory counts the int64 index tables of windows and places
// (docs/index_arithmetic.md): the window below has 60x60 = 3600 elements, one
// 8-byte position each (28800 bytes, under 30000, beside its 14400-byte
// fp32 result); the place of i + j over 60x60 lands up to 60 operand elements
// on one of its 119 result elements, a 119x60 gather table (57120 bytes).
builtin.module {
  func.func @main(%X: tensor<119xf32>, %V: tensor<60x60xf32>) -> (tensor<60x60xf32>, tensor<119xf32>) {
    %W = fuse.window %X affine_map<(d0, d1) -> (d0 + d1)> : tensor<119xf32> -> tensor<60x60xf32> loc("m.fuse":1:1)
    %P = fuse.place %V affine_map<(d0, d1) -> (d0 + d1)> sum : tensor<60x60xf32> -> tensor<119xf32> loc("m.fuse":2:1)
    func.return %W, %P : tensor<60x60xf32>, tensor<119xf32>
  }
}

// FITS: fuse.window
// WINDOW: m.fuse:1:1: the equation for 'W' needs a position table of shape [60x60]: 28.1 KiB (28800 bytes), over the memory limit of 19.5 KiB (20000 bytes)
// PLACE: m.fuse:2:1: the equation for 'P' needs a gather table of the place of shape [119x60]: 55.8 KiB (57120 bytes), over the memory limit of 29.3 KiB (30000 bytes)
