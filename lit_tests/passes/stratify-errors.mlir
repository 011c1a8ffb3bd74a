// RUN: fuse-opt %s -p fuse-stratify --verify-diagnostics | filecheck %s

// fuse-stratify lowers canonical rules: a rule whose body still has an
// implicit projection is refused with a pointer to the missing pass.
fuse.program {
  fuse.tensor @A[i, j] input : tensor<2x3xf32>
  fuse.tensor @S[i] : tensor<2xf32>
  fuse.rule @S[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %0 : !fuse.expr<i, j>
  }
  fuse.export @S
}

// CHECK: rule @S is not canonical (indices ['j'] are not projected, or its indices are not the declared ones): run fuse-canonicalize-projections before fuse-stratify
