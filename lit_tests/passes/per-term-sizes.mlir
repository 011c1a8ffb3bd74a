// RUN: fuse-opt %s --split-input-file -p fuse-canonicalize-projections,fuse-infer-shapes --verify-diagnostics | filecheck %s

// An index projected inside one term is local to that term (DESIGN.md §3,
// case 4): in Y[i] = A[i, j] B[j] + C[i, j] D[j], j has size 4 in the first
// term and 2 in the second. The second term's j becomes j_1.
fuse.program {
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.tensor @A[i, j] input : tensor<3x4xf32>
  fuse.tensor @B[j] input : tensor<4xf32>
  fuse.tensor @C[i, j] input : tensor<3x2xf32>
  fuse.tensor @D[j] input : tensor<2xf32>
  fuse.rule @Y[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.load @B[j] : !fuse.expr<j>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
    %3 = fuse.load @C[i, j] : !fuse.expr<i, j>
    %4 = fuse.load @D[j] : !fuse.expr<j>
    %5 = fuse.arith mul %3, %4 : !fuse.expr<i, j>, !fuse.expr<j>
    %6 = fuse.arith add %2, %5 : !fuse.expr<i, j>, !fuse.expr<i, j>
    fuse.yield %6 : !fuse.expr<i, j>
  }
}

// CHECK:      fuse.tensor @Y[i] : tensor<3xf32>
// CHECK:      fuse.rule @Y[i] sum {
// CHECK:        fuse.project sum [j] %{{.*}} : !fuse.expr<i, j>
// CHECK:        fuse.load @C[i, j_1] : !fuse.expr<i, j_1>
// CHECK-NEXT:   fuse.load @D[j_1] : !fuse.expr<j_1>
// CHECK-NEXT:   %[[M:.*]] = fuse.arith mul
// CHECK-NEXT:   fuse.project sum [j_1] %[[M]] : !fuse.expr<i, j_1>

// -----

// So are the equations of one tensor: Y[i] = A[i, j] B[j] plus
// Y[i] += C[i, j] D[j].
fuse.program {
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.tensor @A[i, j] input : tensor<3x4xf32>
  fuse.tensor @B[j] input : tensor<4xf32>
  fuse.tensor @C[i, j] input : tensor<3x2xf32>
  fuse.tensor @D[j] input : tensor<2xf32>
  fuse.rule @Y[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.load @B[j] : !fuse.expr<j>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
    fuse.yield %2 : !fuse.expr<i, j>
  }
  fuse.rule @Y[i] sum {
    %0 = fuse.load @C[i, j] : !fuse.expr<i, j>
    %1 = fuse.load @D[j] : !fuse.expr<j>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
    fuse.yield %2 : !fuse.expr<i, j>
  }
}

// CHECK:      fuse.tensor @Y[i] : tensor<3xf32>
// CHECK:      fuse.project sum [j] %{{.*}} : !fuse.expr<i, j>
// CHECK:      fuse.project sum [j_1] %{{.*}} : !fuse.expr<i, j_1>
// CHECK-NOT:  fuse.rule @Y

// -----

// A projection nested in another of the same name keeps its own: the inner
// reduce_max's j is renamed, the outer sum's is not.
//   Y[i] = reduce_max(A[i, j]) B[j]
fuse.program {
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.tensor @A[i, j] input : tensor<3x4xf32>
  fuse.tensor @B[j] input : tensor<2xf32>
  fuse.rule @Y[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.project max [j] %0 : !fuse.expr<i, j>
    %2 = fuse.load @B[j] : !fuse.expr<j>
    %3 = fuse.arith mul %1, %2 : !fuse.expr<i>, !fuse.expr<j>
    fuse.yield %3 : !fuse.expr<i, j>
  }
}

// CHECK:      fuse.tensor @Y[i] : tensor<3xf32>
// CHECK:      fuse.load @A[i, j_1]
// CHECK-NEXT: fuse.project max [j_1]
// CHECK-NEXT: fuse.load @B[j]
// CHECK-NEXT: %[[M:.*]] = fuse.arith mul
// CHECK-NEXT: fuse.project sum [j] %[[M]]

// -----

// An index on the left-hand side is one index in every term: two sizes are
// an error that says so.
fuse.program {
  fuse.tensor @Y[i, j] : tensor<?x?xf32>
  fuse.tensor @A[i, j] input : tensor<3x4xf32>
  fuse.tensor @C[i, j] input : tensor<3x2xf32>
  fuse.rule @Y[i, j] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.load @C[i, j] : !fuse.expr<i, j>
    %2 = fuse.arith add %0, %1 : !fuse.expr<i, j>, !fuse.expr<i, j>
    fuse.yield %2 : !fuse.expr<i, j>
  } loc("prog.fuse":2:1)
}

// CHECK: prog.fuse:2:1: index 'j' has size 4 in @A but size 2 in @C ('j' is on the left-hand side of @Y, so every term shares its size)

// -----

// max= does not distribute over +: it projects j over the sum as a whole.
fuse.program {
  fuse.tensor @Y[i] : tensor<?xf32>
  fuse.tensor @A[i, j] input : tensor<3x4xf32>
  fuse.tensor @C[i, j] input : tensor<3x2xf32>
  fuse.rule @Y[i] max {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.load @C[i, j] : !fuse.expr<i, j>
    %2 = fuse.arith add %0, %1 : !fuse.expr<i, j>, !fuse.expr<i, j>
    fuse.yield %2 : !fuse.expr<i, j>
  } loc("prog.fuse":5:1)
}

// CHECK: prog.fuse:5:1: index 'j' has size 4 in @A but size 2 in @C (max= projects 'j' over the sum as a whole, so its terms share its size)
