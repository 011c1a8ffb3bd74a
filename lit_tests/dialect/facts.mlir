// A relation given by facts: a coordinate list into its static shape.
// RUN: fuse-opt %s | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s

fuse.program {
  fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
  fuse.facts @Parent dense<[[0, 1], [1, 2]]> : tensor<2x2xi64> values dense<[1.0, 0.5]> : tensor<2xf32>
}

// CHECK:      fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
// CHECK-NEXT: fuse.facts @Parent dense<{{\[\[}}0, 1], [1, 2]]> : tensor<2x2xi64> values dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf32>
