// Affine index positions, slices and virtual markers in fuse.rule, fuse.load
// and #fuse.indices: pretty and generic round trips (docs/index_arithmetic.md).
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

fuse.program {
  fuse.tensor @X[i, t] input : tensor<?x?xf32>
  fuse.tensor @Y[i, t] : tensor<?x?xf32>
  fuse.tensor @P[x] : tensor<?xf32>

  // CHECK:      fuse.rule @Y[i, t + 1] sum {
  // CHECK-NEXT:   %{{.*}} = fuse.load @X[i, t - 1] : !fuse.expr<i, t>
  // CHECK-NEXT:   %{{.*}} = fuse.load @X[2 * i - t + 3, "p'" floordiv 2] : !fuse.expr<i, t, "p'">
  // CHECK-NEXT:   %{{.*}} = fuse.load @X[(x + dx) floordiv 2, *s + 1] : !fuse.expr<x, dx, s>
  // CHECK-NEXT:   %{{.*}} = fuse.load @X[i in 4:8, j in 2:] : !fuse.expr<i, j>
  // CHECK-NEXT:   %{{.*}} = fuse.load @X[-1 * t + 7, "in"] : !fuse.expr<t, "in">
  // GENERIC: "fuse.rule"() <{tensor = @Y, indices = #fuse.indices<i, t + 1>, projection = "sum"}>
  // GENERIC: "fuse.load"() <{tensor = @X, indices = #fuse.indices<i in 4:8, j in 2:>}>
  fuse.rule @Y[i, t + 1] sum {
    %0 = fuse.load @X[i, t - 1] : !fuse.expr<i, t>
    %1 = fuse.load @X[2 * i + -1 * t + 3, "p'" floordiv 2] : !fuse.expr<i, t, "p'">
    %2 = fuse.load @X[(x + dx) floordiv 2, *s + 1] : !fuse.expr<x, dx, s>
    %3 = fuse.load @X[i in 4:8, j in 2:] : !fuse.expr<i, j>
    %4 = fuse.load @X[7 - t, "in"] : !fuse.expr<t, "in">
    fuse.yield %0 : !fuse.expr<i, t>
  }

  // Positions are canonical: like terms collect, a common factor of the
  // divisor cancels, a lone variable is a name and a constant an integer.
  // CHECK:      fuse.rule @P[x floordiv 2] max {
  // CHECK-NEXT:   %{{.*}} = fuse.load @X[x, 3] : !fuse.expr<x>
  fuse.rule @P[(2 * x) floordiv 4] max {
    %0 = fuse.load @X[x + t - t, 1 + 2] : !fuse.expr<x>
    fuse.yield %0 : !fuse.expr<x>
  }
}
