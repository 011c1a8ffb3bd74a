// RUN: fuse-opt %s -p fuse-canonicalize-projections | filecheck %s

// Trivial projections fold: one over no axes disappears, and a projection
// of a projection of the same kind becomes one.
fuse.program {
  fuse.tensor @A[i, j, k] input : tensor<?x?x?xf32>
  fuse.tensor @S[i] : tensor<?xf32>
  fuse.rule @S[i] sum {
    %0 = fuse.load @A[i, j, k] : !fuse.expr<i, j, k>
    %1 = fuse.project max [k] %0 : !fuse.expr<i, j, k>
    %2 = fuse.project max [j] %1 : !fuse.expr<i, j>
    %3 = fuse.project sum [] %2 : !fuse.expr<i>
    fuse.yield %3 : !fuse.expr<i>
  }
}

// CHECK:      fuse.rule @S[i] sum {
// CHECK-NEXT:   %[[A:.*]] = fuse.load @A[i, j, k] : !fuse.expr<i, j, k>
// CHECK-NEXT:   %[[P:.*]] = fuse.project max [j, k] %[[A]] : !fuse.expr<i, j, k>
// CHECK-NEXT:   fuse.yield %[[P]] : !fuse.expr<i>
