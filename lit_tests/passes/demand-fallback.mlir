// RUN: fuse-opt %s -p fuse-canonicalize-projections,fuse-demand | filecheck %s

// Tensors that cannot be specialized are answered from forward evaluation,
// with the reason on the answer rule: R has a rule on a slice; S normalizes
// over the bound index t.
//   R(t, x) = Edge(t, x)
//   R(0, x) += R(0, y) Edge(y, x)
//   S[p, t.] = softmax(X[p, t])
//   R[0, x]?
//   S[p, 1]?

// CHECK:      fuse.rule @Query_R[x] sum attributes {forward_reason = "@R has a rule on a slice (an integer left-hand-side index)"} {
// CHECK-NEXT:   %7 = fuse.load @R[0, x] : !fuse.expr<x>
// CHECK-NEXT:   fuse.yield %7 : !fuse.expr<x>
// CHECK-NEXT: }
// CHECK-NEXT: fuse.rule @Query_S[p] sum attributes {forward_reason = "@S applies 'softmax' over bound index 't'"} {
// CHECK-NEXT:   %8 = fuse.load @S[p, 1] : !fuse.expr<p>
// CHECK-NEXT:   fuse.yield %8 : !fuse.expr<p>
// CHECK-NEXT: }
// CHECK-NEXT: fuse.export @Query_R
// CHECK-NEXT: fuse.export @Query_S

fuse.program {
  fuse.tensor @R[t, x] boolean : tensor<?x?xf32>
  fuse.tensor @Edge[t, x] input : tensor<?x?xf32>
  fuse.tensor @S[p, t] : tensor<?x?xf32>
  fuse.tensor @X[p, t] input : tensor<?x?xf32>
  fuse.rule @R[t, x] sum {
    %0 = fuse.load @Edge[t, x] : !fuse.expr<t, x>
    fuse.yield %0 : !fuse.expr<t, x>
  }
  fuse.rule @R[0, x] sum {
    %1 = fuse.load @R[0, y] : !fuse.expr<y>
    %2 = fuse.load @Edge[y, x] : !fuse.expr<y, x>
    %3 = fuse.arith mul %1, %2 : !fuse.expr<y>, !fuse.expr<y, x>
    fuse.yield %3 : !fuse.expr<y, x>
  }
  fuse.rule @S[p, t] sum {
    %4 = fuse.load @X[p, t] : !fuse.expr<p, t>
    %5 = fuse.call softmax(%4) {axis = "t"} : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    fuse.yield %5 : !fuse.expr<p, t>
  }
  fuse.query @R[0, x]
  fuse.query @S[p, 1]
}
