// RUN: fuse-opt %s -p fuse-canonicalize-projections,fuse-infer-shapes,fuse-stratify | filecheck %s

// fuse-stratify lowers index arithmetic to windows and places
// (docs/index_arithmetic.md): Image[x + dx] becomes a window over (x, dx)
// that the einsum with K contracts; Z[i] = X[i - 1] has i from 1, so its
// dimension d stands for i = d + 1: it reads X as is (no window) and places
// it at d + 1 of a tensor one longer; P[x floordiv 2] max= F[x] places
// F by max, two elements per pooled one.
fuse.program {
  fuse.tensor @Image[x] input : tensor<8xf32>
  fuse.tensor @K[dx] input : tensor<3xf32>
  fuse.tensor @X[i] input : tensor<6xf32>
  fuse.tensor @F[x] input : tensor<7xf32>
  fuse.tensor @Y[x] : tensor<?xf32>
  fuse.tensor @Z[i] : tensor<?xf32>
  fuse.tensor @P[x] : tensor<?xf32>
  fuse.rule @Y[x] sum {
    %0 = fuse.load @Image[x + dx] : !fuse.expr<x, dx>
    %1 = fuse.load @K[dx] : !fuse.expr<dx>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<x, dx>, !fuse.expr<dx>
    fuse.yield %2 : !fuse.expr<x, dx>
  }
  fuse.rule @Z[i] sum {
    %0 = fuse.load @X[i - 1] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
  fuse.rule @P[x floordiv 2] max {
    %0 = fuse.load @F[x] : !fuse.expr<x>
    fuse.yield %0 : !fuse.expr<x>
  }
  fuse.export @Y
  fuse.export @Z
  fuse.export @P
}

// CHECK:      %[[W:.*]] = fuse.window %Image affine_map<(d0, d1) -> ((d0 + d1))> : tensor<8xf32> -> tensor<6x3xf32>
// CHECK-NEXT: %Y = fuse.einsum "ab,b->a" sum (%[[W]], %K) : (tensor<6x3xf32>, tensor<3xf32>) -> tensor<6xf32>
// CHECK-NEXT: %Z = fuse.place %X affine_map<(d0) -> ((d0 + 1))> sum : tensor<6xf32> -> tensor<7xf32>
// CHECK:      %P = fuse.place %F affine_map<(d0) -> ((d0 floordiv 2))> max : tensor<7xf32> -> tensor<4xf32>
