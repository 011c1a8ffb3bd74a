// RUN: fuse-opt %s -p fuse-canonicalize-projections --verify-diagnostics | filecheck %s

// One tensor may not mix max= with other operators.
fuse.program {
  fuse.tensor @A[i, j] input : tensor<?x?xf32>
  fuse.tensor @M[i] : tensor<?xf32>
  fuse.rule @M[i] max {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %0 : !fuse.expr<i, j>
  }
  fuse.rule @M[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %0 : !fuse.expr<i, j>
  }
}

// CHECK: tensor @M mixes max= with other operators
