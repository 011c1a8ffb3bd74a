// RUN: fuse-opt %s -p fuse-canonicalize-projections | filecheck %s
// RUN: fuse-opt %s -p fuse-canonicalize-projections | fuse-opt -p fuse-canonicalize-projections | filecheck %s

// Rules as the IR builder emits them for:
//   Y[i] = relu(W[i, j] X[j] + B[i])
//   K[i, i'] = exp(-(X2[i, j] - X2[i', j])^2 / V)
//   T[x, y] = A[x, y]
//   T[u, v] += A[v, u] C[u, y]
//   M[i] max= A[i, j]
//   M[i] max= reduce_max(A[j, i])
//   N[i] = reduce_mean(A[i, j]) + A[i, j]

builtin.module {
  fuse.program {
    fuse.tensor @Y[i] : tensor<?xf32>
    fuse.tensor @W[i, j] input : tensor<?x?xf32>
    fuse.tensor @X[j] input : tensor<?xf32>
    fuse.tensor @B[i] input : tensor<?xf32>
    fuse.tensor @K[i, "i'"] : tensor<?x?xf32>
    fuse.tensor @X2[i, j] input : tensor<?x?xf32>
    fuse.tensor @V[] input : tensor<f32>
    fuse.tensor @T[x, y] : tensor<?x?xf32>
    fuse.tensor @A[x, y] input : tensor<?x?xf32>
    fuse.tensor @C[u, y] input : tensor<?x?xf32>
    fuse.tensor @M[i] : tensor<?xf32>
    fuse.tensor @N[i] : tensor<?xf32>
    fuse.rule @Y[i] sum {
      %0 = fuse.load @W[i, j] : !fuse.expr<i, j>
      %1 = fuse.load @X[j] : !fuse.expr<j>
      %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
      %3 = fuse.load @B[i] : !fuse.expr<i>
      %4 = fuse.arith add %2, %3 : !fuse.expr<i, j>, !fuse.expr<i>
      %5 = fuse.call relu(%4) : (!fuse.expr<i, j>) -> !fuse.expr<i, j>
      fuse.yield %5 : !fuse.expr<i, j>
    }
    fuse.rule @K[i, "i'"] sum {
      %6 = fuse.load @X2[i, j] : !fuse.expr<i, j>
      %7 = fuse.load @X2["i'", j] : !fuse.expr<"i'", j>
      %8 = fuse.arith sub %6, %7 : !fuse.expr<i, j>, !fuse.expr<"i'", j>
      %9 = fuse.literal 2.000000e+00 : f32 -> !fuse.expr<>
      %10 = fuse.arith pow %8, %9 : !fuse.expr<i, j, "i'">, !fuse.expr<>
      %11 = fuse.negate %10 : !fuse.expr<i, j, "i'">
      %12 = fuse.load @V[] : !fuse.expr<>
      %13 = fuse.arith div %11, %12 : !fuse.expr<i, j, "i'">, !fuse.expr<>
      %14 = fuse.call exp(%13) : (!fuse.expr<i, j, "i'">) -> !fuse.expr<i, j, "i'">
      fuse.yield %14 : !fuse.expr<i, j, "i'">
    }
    fuse.rule @T[x, y] sum {
      %15 = fuse.load @A[x, y] : !fuse.expr<x, y>
      fuse.yield %15 : !fuse.expr<x, y>
    }
    fuse.rule @T[u, v] sum {
      %16 = fuse.load @A[v, u] : !fuse.expr<v, u>
      %17 = fuse.load @C[u, y] : !fuse.expr<u, y>
      %18 = fuse.arith mul %16, %17 : !fuse.expr<v, u>, !fuse.expr<u, y>
      fuse.yield %18 : !fuse.expr<v, u, y>
    }
    fuse.rule @M[i] max {
      %19 = fuse.load @A[i, j] : !fuse.expr<i, j>
      fuse.yield %19 : !fuse.expr<i, j>
    }
    fuse.rule @M[i] max {
      %20 = fuse.load @A[j, i] : !fuse.expr<j, i>
      %21 = fuse.project max [j] %20 : !fuse.expr<j, i>
      fuse.yield %21 : !fuse.expr<i>
    }
    fuse.rule @N[i] sum {
      %22 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %23 = fuse.project mean [j] %22 : !fuse.expr<i, j>
      %24 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %25 = fuse.arith add %23, %24 : !fuse.expr<i>, !fuse.expr<i, j>
      fuse.yield %25 : !fuse.expr<i, j>
    }
  }
}

// relu: j is summed over the first term only, inside the call.
// CHECK-LABEL: fuse.rule @Y[i] sum {
// CHECK:         %[[WX:.*]] = fuse.arith mul
// CHECK-NEXT:    %[[S:.*]] = fuse.project sum [j] %[[WX]] : !fuse.expr<i, j>
// CHECK-NEXT:    %[[B:.*]] = fuse.load @B[i]
// CHECK-NEXT:    %[[ADD:.*]] = fuse.arith add %[[S]], %[[B]] : !fuse.expr<i>, !fuse.expr<i>
// CHECK-NEXT:    %[[R:.*]] = fuse.call relu(%[[ADD]]) : (!fuse.expr<i>) -> !fuse.expr<i>
// CHECK-NEXT:    fuse.yield %[[R]] : !fuse.expr<i>

// Gaussian kernel: j meets in a difference, so it is summed over the power
// whose base holds it; the negation and the division by V come after.
// CHECK-LABEL: fuse.rule @K[i, "i'"] sum {
// CHECK:         %[[POW:.*]] = fuse.arith pow
// CHECK-NEXT:    %[[P:.*]] = fuse.project sum [j] %[[POW]] : !fuse.expr<i, j, "i'">
// CHECK-NEXT:    %[[NEG:.*]] = fuse.negate %[[P]] : !fuse.expr<i, "i'">
// CHECK-NEXT:    %[[V:.*]] = fuse.load @V[]
// CHECK-NEXT:    %[[D:.*]] = fuse.arith div %[[NEG]], %[[V]]
// CHECK-NEXT:    fuse.call exp(%[[D]]) : (!fuse.expr<i, "i'">) -> !fuse.expr<i, "i'">

// Positional renaming (u, v -> x, y; the local y moves to y_1) and merging.
// CHECK-LABEL: fuse.rule @T[x, y] sum {
// CHECK-NEXT:    %[[A:.*]] = fuse.load @A[x, y]
// CHECK-NEXT:    fuse.load @A[y, x]
// CHECK-NEXT:    fuse.load @C[x, y_1]
// CHECK-NEXT:    %[[M:.*]] = fuse.arith mul
// CHECK-NEXT:    %[[P:.*]] = fuse.project sum [y_1] %[[M]]
// CHECK-NEXT:    fuse.arith add %[[A]], %[[P]]
// CHECK-NOT:   fuse.rule @T

// max= rules merge with max; reduce_max is already an explicit projection.
// Each equation's j is its own (j_1 in the second), so its size may differ.
// CHECK-LABEL: fuse.rule @M[i] max {
// CHECK:         %[[L:.*]] = fuse.project max [j]
// CHECK:         %[[R:.*]] = fuse.project max [j_1]
// CHECK-NEXT:    fuse.arith max %[[L]], %[[R]]
// CHECK-NOT:   fuse.rule @M

// reduce_mean projects its own argument; the other term gets the rule's sum,
// over a j of its own.
// CHECK-LABEL: fuse.rule @N[i] sum {
// CHECK:         fuse.project mean [j]
// CHECK:         fuse.project sum [j_1]
