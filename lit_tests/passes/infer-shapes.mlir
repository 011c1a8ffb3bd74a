// RUN: fuse-opt %s --split-input-file -p fuse-infer-shapes --verify-diagnostics | filecheck %s

// Sizes flow from inputs through rules to every tensor, and on to readers.
fuse.program {
  fuse.tensor @W[i, j] input : tensor<4x8xf32>
  fuse.tensor @X[j] input : tensor<?xf32>
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.tensor @Z[a, b] : tensor<?x?xf32>
  fuse.rule @Y[i] sum {
    %0 = fuse.load @W[i, j] : !fuse.expr<i, j>
    %1 = fuse.project sum [j] %0 : !fuse.expr<i, j>
    fuse.yield %1 : !fuse.expr<i>
  }
  fuse.rule @Z[a, b] sum {
    %0 = fuse.load @Y[a] : !fuse.expr<a>
    %1 = fuse.literal dense<[1.0, 2.0, 3.0]> : tensor<3xf32> -> !fuse.expr<b>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<a>, !fuse.expr<b>
    fuse.yield %2 : !fuse.expr<a, b>
  }
}

// CHECK:      fuse.tensor @W[i, j] input : tensor<4x8xf32>
// CHECK-NEXT: fuse.tensor @X[j] input : tensor<?xf32>
// CHECK-NEXT: fuse.tensor @Y[i] : tensor<4xf32>
// CHECK-NEXT: fuse.tensor @Z[a, b] : tensor<4x3xf32>

// -----

// One index bound to two sizes names the index, both tensors and both sizes.
fuse.program {
  fuse.tensor @A[i, j] input : tensor<2x3xf32>
  fuse.tensor @B[j] input : tensor<4xf32>
  fuse.tensor @C[i] : tensor<?xf32>
  fuse.rule @C[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.load @B[j] : !fuse.expr<j>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
    fuse.yield %2 : !fuse.expr<i, j>
  } loc("prog.fuse":3:1)
}

// CHECK: prog.fuse:3:1: index 'j' has size 3 in @A but size 4 in @B

// -----

// Sizes flow backwards too: @P is read beside @X, so it has @X's shape
// although nothing in its own rule binds p or d.
fuse.program {
  fuse.tensor @X[p, d] input : tensor<5x8xf32>
  fuse.tensor @P[p, d] : tensor<?x?xf32>
  fuse.tensor @S[p, d] : tensor<?x?xf32>
  fuse.rule @P[p, d] sum {
    %0 = fuse.call iota[d]() : () -> !fuse.expr<d>
    fuse.yield %0 : !fuse.expr<d>
  }
  fuse.rule @S[p, d] sum {
    %0 = fuse.load @X[p, d] : !fuse.expr<p, d>
    %1 = fuse.load @P[p, d] : !fuse.expr<p, d>
    %2 = fuse.arith add %0, %1 : !fuse.expr<p, d>, !fuse.expr<p, d>
    fuse.yield %2 : !fuse.expr<p, d>
  }
}

// CHECK:      fuse.tensor @X[p, d] input : tensor<5x8xf32>
// CHECK-NEXT: fuse.tensor @P[p, d] : tensor<5x8xf32>
// CHECK-NEXT: fuse.tensor @S[p, d] : tensor<5x8xf32>

// -----

// A dimension nothing sizes but rules write at integer positions (the facts
// `X(1) = 1`, `X(3)`) is as large as the largest position plus one; the
// size flows on to the tensors that read it.
fuse.program {
  fuse.tensor @X[d0] boolean : tensor<?xf32>
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.rule @X[1] sum {
    %0 = fuse.literal 1.000000e+00 : f32 -> !fuse.expr<>
    fuse.yield %0 : !fuse.expr<>
  }
  fuse.rule @X[3] sum {
    %0 = fuse.literal 1.000000e+00 : f32 -> !fuse.expr<>
    fuse.yield %0 : !fuse.expr<>
  }
  fuse.rule @Y[i] sum {
    %0 = fuse.load @X[i] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
}

// CHECK:      fuse.tensor @X[d0] boolean : tensor<4xf32>
// CHECK-NEXT: fuse.tensor @Y[i] : tensor<4xf32>
