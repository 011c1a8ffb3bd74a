// Errors in affine index positions and slices: what the parser and the
// verifiers say, one per chunk.
// RUN: fuse-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

fuse.program {
  fuse.tensor @X[i] input : tensor<?xf32>
  fuse.tensor @P[x] : tensor<?xf32>
  fuse.rule @P[x floordiv 0] max {
    %0 = fuse.load @X[x] : !fuse.expr<x>
    fuse.yield %0 : !fuse.expr<x>
  }
}

// CHECK: floordiv by 0: the divisor must be a positive integer

// -----

fuse.program {
  fuse.tensor @X[i] input : tensor<?xf32>
  fuse.tensor @P[x] : tensor<?xf32>
  fuse.rule @P[x] sum {
    %0 = fuse.load @X[x in 5:3] : !fuse.expr<x>
    fuse.yield %0 : !fuse.expr<x>
  }
}

// CHECK: slice 5:3 is empty or starts below 0: a slice needs 0 <= start < stop

// -----

fuse.program {
  fuse.tensor @X[i] input : tensor<?xf32>
  fuse.tensor @P[x] : tensor<?xf32>
  fuse.rule @P[x] sum {
    %0 = fuse.load @X[*s + *t] : !fuse.expr<s, t>
    fuse.yield %0 : !fuse.expr<s, t>
  }
}

// CHECK: an index position has at most one virtual ('*') variable

// -----

fuse.program {
  fuse.tensor @X[i] input : tensor<?xf32>
  fuse.tensor @P[x] : tensor<?xf32>
  fuse.rule @P[x] sum {
    %0 = fuse.load @X[2 * ] : !fuse.expr<x>
    fuse.yield %0 : !fuse.expr<x>
  }
}

// CHECK: expected an index name

// -----

fuse.program {
  fuse.tensor @X[i, t + 1] input : tensor<?x?xf32>
}

// CHECK: tensor @X declares index names, not index arithmetic or slices: [i, t + 1]

// -----

fuse.program {
  fuse.tensor @X[i] input : tensor<?xf32>
  fuse.query @X[i + 1]
}

// CHECK: fuse.query of @X takes index names and integers, not index arithmetic or slices: [i + 1]
