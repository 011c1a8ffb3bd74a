// RUN: fuse-opt %s --split-input-file -p fuse-infer-shapes --verify-diagnostics | filecheck %s

// Under index arithmetic a variable ranges over the values that keep every
// access in bounds (docs/index_arithmetic.md): x + dx with Image of size 8 and
// K of size 3 gives x in 0..5 (a valid convolution); i - 1 gives i in 1..6,
// so Z is one longer than X with Z[0] never written; x floordiv 2 over 7
// values makes a pooled tensor of ceil(7 / 2) = 4; a slice j in 2: of 6
// elements gives j in 0..3.
fuse.program {
  fuse.tensor @Image[x] input : tensor<8xf32>
  fuse.tensor @K[dx] input : tensor<3xf32>
  fuse.tensor @X[i] input : tensor<6xf32>
  fuse.tensor @F[x] input : tensor<7xf32>
  fuse.tensor @Y[x] : tensor<?xf32>
  fuse.tensor @Z[i] : tensor<?xf32>
  fuse.tensor @P[x] : tensor<?xf32>
  fuse.tensor @S[j] : tensor<?xf32>
  fuse.rule @Y[x] sum {
    %0 = fuse.load @Image[x + dx] : !fuse.expr<x, dx>
    %1 = fuse.load @K[dx] : !fuse.expr<dx>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<x, dx>, !fuse.expr<dx>
    %3 = fuse.project sum [dx] %2 : !fuse.expr<x, dx>
    fuse.yield %3 : !fuse.expr<x>
  }
  fuse.rule @Z[i] sum {
    %0 = fuse.load @X[i - 1] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
  fuse.rule @P[x floordiv 2] max {
    %0 = fuse.load @F[x] : !fuse.expr<x>
    fuse.yield %0 : !fuse.expr<x>
  }
  fuse.rule @S[j] sum {
    %0 = fuse.load @X[j in 2:] : !fuse.expr<j>
    fuse.yield %0 : !fuse.expr<j>
  }
}

// CHECK: fuse.tensor @Y[x] : tensor<6xf32>
// CHECK: fuse.tensor @Z[i] : tensor<7xf32>
// CHECK: fuse.tensor @P[x] : tensor<4xf32>
// CHECK: fuse.tensor @S[j] : tensor<4xf32>

// -----

// A recurrence writes t + 1 for every t its inputs have: T + 1 steps.
fuse.program {
  fuse.tensor @U[i, t] input : tensor<3x5xf32>
  fuse.tensor @H[i, t] : tensor<?x?xf32>
  fuse.rule @H[i, t + 1] sum {
    %0 = fuse.load @H[i, t] : !fuse.expr<i, t>
    %1 = fuse.load @U[i, t] : !fuse.expr<i, t>
    %2 = fuse.arith add %0, %1 : !fuse.expr<i, t>, !fuse.expr<i, t>
    fuse.yield %2 : !fuse.expr<i, t>
  }
}

// CHECK: fuse.tensor @H[i, t] : tensor<3x6xf32>

// -----

// A read that no value keeps in bounds is an error naming the index.
fuse.program {
  fuse.tensor @X[i] input : tensor<4xf32>
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.rule @Y[i] sum {
    %0 = fuse.load @X[i in 5:8] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  } loc("m.fuse":1:1)
}

// CHECK: m.fuse:1:1: index 'i' has no value that keeps every access in bounds (it would range over 0..-2)

// -----

// A tensor of fixed size (an input or a source) is not written past its end.
fuse.program {
  fuse.tensor @X[i] input : tensor<4xf32>
  fuse.tensor @Y[i] input : tensor<4xf32>
  fuse.rule @Y[2 * i] sum {
    %0 = fuse.load @X[i] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  } loc("m.fuse":2:1)
}

// CHECK: m.fuse:2:1: @Y[2 * i] writes position 6 of dimension 0, which has size 4

// -----

// A tensor's rules together define it: it is as long as the longest.
fuse.program {
  fuse.tensor @X[i] input : tensor<4xf32>
  fuse.tensor @P[i] : tensor<?xf32>
  fuse.rule @P[i + 1] sum {
    %0 = fuse.load @X[i] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
  fuse.rule @P[i + 2] sum {
    %0 = fuse.load @X[i] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
}

// CHECK: fuse.tensor @P[i] : tensor<6xf32>

// -----

// A recurrence's axis that nothing else sizes (one weight matrix for every
// layer) is as long as the last position read, and its stepping rule stops
// there: Emb[n, 3, d] asks for layers 0..3, so l takes 3 values.
fuse.program {
  fuse.tensor @X[n] input : tensor<4xf32>
  fuse.tensor @Emb[n, l] : tensor<4x?xf32>
  fuse.tensor @Y[n] : tensor<?xf32>
  fuse.rule @Emb[n, 0] sum {
    %0 = fuse.load @X[n] : !fuse.expr<n>
    fuse.yield %0 : !fuse.expr<n>
  }
  fuse.rule @Emb[n, l + 1] sum {
    %0 = fuse.load @Emb[n, l] : !fuse.expr<n, l>
    fuse.yield %0 : !fuse.expr<n, l>
  }
  fuse.rule @Y[n] sum {
    %0 = fuse.load @Emb[n, 3] : !fuse.expr<n>
    fuse.yield %0 : !fuse.expr<n>
  }
}

// CHECK:      fuse.tensor @Emb[n, l] : tensor<4x4xf32>
// CHECK:      fuse.rule @Emb[n, l + 1] sum attributes {fuse.steps = {l = 3 : i64}}
