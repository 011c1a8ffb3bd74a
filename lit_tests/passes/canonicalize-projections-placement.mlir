// RUN: fuse-opt %s -p fuse-canonicalize-projections | filecheck %s
// RUN: fuse-opt %s -p fuse-canonicalize-projections | fuse-opt -p fuse-canonicalize-projections | filecheck %s

// Where the projection rule (DESIGN.md §3) puts each projection: an index is
// projected where it is joined. Rules as the IR builder emits them for:
//   K[i, i'] = (X[i, j] X[i', j])^3
//   N = (Z[i]^2)^0.5
//   P[i] = (A[i, j] + B[i])
//   Q[i] = 1 (A[i, j] + B[i])
//   R[i] = 2 (A[i, j] + B[i]) + A[i, j]
//   M[i] max= B[i] - A[i, j]
//   Y[i] = A[i, j] D[j] + X[i, j] D[j]

builtin.module {
  fuse.program {
    fuse.tensor @K[i, "i'"] : tensor<?x?xf32>
    fuse.tensor @X[i, j] input : tensor<?x?xf32>
    fuse.tensor @N[] : tensor<f32>
    fuse.tensor @Z[i] input : tensor<?xf32>
    fuse.tensor @P[i] : tensor<?xf32>
    fuse.tensor @A[i, j] input : tensor<?x?xf32>
    fuse.tensor @B[i] input : tensor<?xf32>
    fuse.tensor @Q[i] : tensor<?xf32>
    fuse.tensor @R[i] : tensor<?xf32>
    fuse.tensor @M[i] : tensor<?xf32>
    fuse.tensor @Y[i] : tensor<?xf32>
    fuse.tensor @D[j] input : tensor<?xf32>
    fuse.rule @K[i, "i'"] sum {
      %0 = fuse.load @X[i, j] : !fuse.expr<i, j>
      %1 = fuse.load @X["i'", j] : !fuse.expr<"i'", j>
      %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<"i'", j>
      %3 = fuse.literal 3.000000e+00 : f32 -> !fuse.expr<>
      %4 = fuse.arith pow %2, %3 : !fuse.expr<i, j, "i'">, !fuse.expr<>
      fuse.yield %4 : !fuse.expr<i, j, "i'">
    }
    fuse.rule @N[] sum {
      %5 = fuse.load @Z[i] : !fuse.expr<i>
      %6 = fuse.literal 2.000000e+00 : f32 -> !fuse.expr<>
      %7 = fuse.arith pow %5, %6 : !fuse.expr<i>, !fuse.expr<>
      %8 = fuse.literal 5.000000e-01 : f32 -> !fuse.expr<>
      %9 = fuse.arith pow %7, %8 : !fuse.expr<i>, !fuse.expr<>
      fuse.yield %9 : !fuse.expr<i>
    }
    fuse.rule @P[i] sum {
      %10 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %11 = fuse.load @B[i] : !fuse.expr<i>
      %12 = fuse.arith add %10, %11 : !fuse.expr<i, j>, !fuse.expr<i>
      fuse.yield %12 : !fuse.expr<i, j>
    }
    fuse.rule @Q[i] sum {
      %13 = fuse.literal 1.000000e+00 : f32 -> !fuse.expr<>
      %14 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %15 = fuse.load @B[i] : !fuse.expr<i>
      %16 = fuse.arith add %14, %15 : !fuse.expr<i, j>, !fuse.expr<i>
      %17 = fuse.arith mul %13, %16 : !fuse.expr<>, !fuse.expr<i, j>
      fuse.yield %17 : !fuse.expr<i, j>
    }
    fuse.rule @R[i] sum {
      %18 = fuse.literal 2.000000e+00 : f32 -> !fuse.expr<>
      %19 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %20 = fuse.load @B[i] : !fuse.expr<i>
      %21 = fuse.arith add %19, %20 : !fuse.expr<i, j>, !fuse.expr<i>
      %22 = fuse.arith mul %18, %21 : !fuse.expr<>, !fuse.expr<i, j>
      %23 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %24 = fuse.arith add %22, %23 : !fuse.expr<i, j>, !fuse.expr<i, j>
      fuse.yield %24 : !fuse.expr<i, j>
    }
    fuse.rule @M[i] max {
      %25 = fuse.load @B[i] : !fuse.expr<i>
      %26 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %27 = fuse.arith sub %25, %26 : !fuse.expr<i>, !fuse.expr<i, j>
      fuse.yield %27 : !fuse.expr<i, j>
    }
    fuse.rule @Y[i] sum {
      %28 = fuse.load @A[i, j] : !fuse.expr<i, j>
      %29 = fuse.load @D[j] : !fuse.expr<j>
      %30 = fuse.arith mul %28, %29 : !fuse.expr<i, j>, !fuse.expr<j>
      %31 = fuse.load @X[i, j] : !fuse.expr<i, j>
      %32 = fuse.load @D[j] : !fuse.expr<j>
      %33 = fuse.arith mul %31, %32 : !fuse.expr<i, j>, !fuse.expr<j>
      %34 = fuse.arith add %30, %33 : !fuse.expr<i, j>, !fuse.expr<i, j>
      fuse.yield %34 : !fuse.expr<i, j>
    }
    fuse.export @K
    fuse.export @N
    fuse.export @P
    fuse.export @Q
    fuse.export @R
    fuse.export @M
    fuse.export @Y
  }
}


// Polynomial kernel: j is joined in the product, summed before the power.
// CHECK-LABEL: fuse.rule @K[i, "i'"] sum {
// CHECK:         %[[XX:.*]] = fuse.arith mul
// CHECK-NEXT:    %[[S:.*]] = fuse.project sum [j] %[[XX]] : !fuse.expr<i, j, "i'">
// CHECK-NEXT:    %[[E:.*]] = fuse.literal 3.000000e+00
// CHECK-NEXT:    %[[POW:.*]] = fuse.arith pow %[[S]], %[[E]] : !fuse.expr<i, "i'">, !fuse.expr<>
// CHECK-NEXT:    fuse.yield %[[POW]] : !fuse.expr<i, "i'">

// Euclidean norm: i is summed over the inner power, then the root is taken.
// CHECK-LABEL: fuse.rule @N[] sum {
// CHECK:         %[[SQ:.*]] = fuse.arith pow
// CHECK-NEXT:    %[[S:.*]] = fuse.project sum [i] %[[SQ]] : !fuse.expr<i>
// CHECK-NEXT:    %[[H:.*]] = fuse.literal 5.000000e-01
// CHECK-NEXT:    fuse.arith pow %[[S]], %[[H]] : !fuse.expr<>, !fuse.expr<>

// Parentheses only group: j is summed over A alone, with or without `1 (...)`.
// CHECK-LABEL: fuse.rule @P[i] sum {
// CHECK-NEXT:    %[[A:.*]] = fuse.load @A[i, j]
// CHECK-NEXT:    %[[S:.*]] = fuse.project sum [j] %[[A]] : !fuse.expr<i, j>
// CHECK-NEXT:    %[[B:.*]] = fuse.load @B[i]
// CHECK-NEXT:    fuse.arith add %[[S]], %[[B]] : !fuse.expr<i>, !fuse.expr<i>
// CHECK-LABEL: fuse.rule @Q[i] sum {
// CHECK-NEXT:    %[[ONE:.*]] = fuse.literal 1.000000e+00
// CHECK-NEXT:    %[[A:.*]] = fuse.load @A[i, j]
// CHECK-NEXT:    %[[S:.*]] = fuse.project sum [j] %[[A]] : !fuse.expr<i, j>
// CHECK-NEXT:    %[[B:.*]] = fuse.load @B[i]
// CHECK-NEXT:    %[[ADD:.*]] = fuse.arith add %[[S]], %[[B]] : !fuse.expr<i>, !fuse.expr<i>
// CHECK-NEXT:    fuse.arith mul %[[ONE]], %[[ADD]] : !fuse.expr<>, !fuse.expr<i>

// Each term of a sum is projected as if it were a right-hand side of its
// own, so the parenthesized sum inside the first term keeps B out of the sum.
// CHECK-LABEL: fuse.rule @R[i] sum {
// CHECK:         %[[A:.*]] = fuse.load @A[i, j]
// CHECK-NEXT:    %[[S:.*]] = fuse.project sum [j] %[[A]]
// CHECK-NEXT:    %[[B:.*]] = fuse.load @B[i]
// CHECK-NEXT:    %[[ADD:.*]] = fuse.arith add %[[S]], %[[B]]
// CHECK-NEXT:    %[[MUL:.*]] = fuse.arith mul %{{.*}}, %[[ADD]]
// CHECK-NEXT:    %[[A2:.*]] = fuse.load @A[i, j_1]
// CHECK-NEXT:    %[[S2:.*]] = fuse.project sum [j_1] %[[A2]]
// CHECK-NEXT:    fuse.arith add %[[MUL]], %[[S2]] : !fuse.expr<i>, !fuse.expr<i>

// max= does not distribute over +: the difference is maximized as a whole.
// CHECK-LABEL: fuse.rule @M[i] max {
// CHECK:         %[[SUB:.*]] = fuse.arith sub
// CHECK-NEXT:    %[[MX:.*]] = fuse.project max [j] %[[SUB]] : !fuse.expr<i, j>
// CHECK-NEXT:    fuse.yield %[[MX]] : !fuse.expr<i>

// A sum of products: j is summed in each term apart, and is local to its
// term (j_1 in the second), so it may have a size of its own there.
// CHECK-LABEL: fuse.rule @Y[i] sum {
// CHECK:         %[[L:.*]] = fuse.arith mul
// CHECK-NEXT:    %[[SL:.*]] = fuse.project sum [j] %[[L]]
// CHECK:         fuse.load @X[i, j_1]
// CHECK-NEXT:    fuse.load @D[j_1]
// CHECK-NEXT:    %[[R:.*]] = fuse.arith mul
// CHECK-NEXT:    %[[SR:.*]] = fuse.project sum [j_1] %[[R]]
// CHECK-NEXT:    fuse.arith add %[[SL]], %[[SR]] : !fuse.expr<i>, !fuse.expr<i>
