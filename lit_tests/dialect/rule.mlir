// fuse.rule, fuse.sink, fuse.load and fuse.yield: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

fuse.program {
  fuse.tensor @A[i, k] input : tensor<?x?xf32>
  fuse.tensor @B[k, j] input : tensor<?x?xf32>
  fuse.tensor @C[i, j] : tensor<?x?xf32>
  fuse.tensor @Obs[t, o] input : tensor<?x?xf32>
  fuse.tensor @M[m] : tensor<?xf32>

  // CHECK:      fuse.rule @C[i, j] sum {
  // CHECK-NEXT:   %a = fuse.load @A[i, k] : !fuse.expr<i, k>
  // CHECK-NEXT:   %b = fuse.load @B[k, j] : !fuse.expr<k, j>
  // CHECK-NEXT:   %p = fuse.arith mul %a, %b : !fuse.expr<i, k>, !fuse.expr<k, j>
  // CHECK-NEXT:   fuse.yield %p : !fuse.expr<i, k, j>
  // CHECK-NEXT: }
  fuse.rule @C[i, j] sum {
    %a = fuse.load @A[i, k] : !fuse.expr<i, k>
    %b = fuse.load @B[k, j] : !fuse.expr<k, j>
    %p = fuse.arith mul %a, %b : !fuse.expr<i, k>, !fuse.expr<k, j>
    fuse.yield %p : !fuse.expr<i, k, j>
  }

  // Positional renaming is legal: the rule's indices need not be the declared ones.
  // CHECK:      fuse.rule @C[x, "y'"] max attributes {origin = "line 3"} {
  // CHECK-NEXT:   %d = fuse.load @A[x, x] : !fuse.expr<x>
  // CHECK-NEXT:   %o = fuse.load @Obs[0, "y'"] : !fuse.expr<"y'">
  // CHECK-NEXT:   %s = fuse.arith add %d, %o : !fuse.expr<x>, !fuse.expr<"y'">
  // CHECK-NEXT:   fuse.yield %s : !fuse.expr<x, "y'">
  fuse.rule @C[x, "y'"] max attributes {origin = "line 3"} {
    %d = fuse.load @A[x, x] : !fuse.expr<x>
    %o = fuse.load @Obs[0, "y'"] : !fuse.expr<"y'">
    %s = fuse.arith add %d, %o : !fuse.expr<x>, !fuse.expr<"y'">
    fuse.yield %s : !fuse.expr<x, "y'">
  }

  // CHECK:      fuse.rule @M[m] mean {
  // CHECK-NEXT:   %r = fuse.load @Obs[m, o] {note = 0 : i64} : !fuse.expr<m, o>
  fuse.rule @M[m] mean {
    %r = fuse.load @Obs[m, o] {note = 0 : i64} : !fuse.expr<m, o>
    fuse.yield %r : !fuse.expr<m, o>
  }

  // CHECK:      fuse.sink "out.npy" {
  // CHECK-NEXT:   %c = fuse.load @C[i, j] : !fuse.expr<i, j>
  // CHECK-NEXT:   fuse.yield %c : !fuse.expr<i, j>
  // CHECK-NEXT: }
  fuse.sink "out.npy" {
    %c = fuse.load @C[i, j] : !fuse.expr<i, j>
    fuse.yield %c : !fuse.expr<i, j>
  }

  // CHECK:      fuse.sink "dir/with space.csv" attributes {note = 1 : i64} {
  fuse.sink "dir/with space.csv" attributes {note = 1 : i64} {
    %m = fuse.load @M[m] : !fuse.expr<m>
    fuse.yield %m : !fuse.expr<m>
  }
}

// GENERIC: "fuse.rule"() <{tensor = @C, indices = #fuse.indices<i, j>, projection = "sum"}> ({
// GENERIC: "fuse.yield"(%p) : (!fuse.expr<i, k, j>) -> ()
// GENERIC: "fuse.load"() <{tensor = @Obs, indices = #fuse.indices<0, "y'">}> : () -> !fuse.expr<"y'">
// GENERIC: "fuse.sink"() <{path = "out.npy"}> ({
