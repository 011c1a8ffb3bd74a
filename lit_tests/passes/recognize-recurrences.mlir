// fuse-recognize-recurrences marks recursions that step by one along one index
// (fuse.scan_axis) and says why the others stay fixpoints
// (fuse.fixpoint_reason); fuse-stratify then emits the scans.
// RUN: fuse-opt %s -p fuse-recognize-recurrences | filecheck %s
// RUN: fuse-opt %s -p fuse-recognize-recurrences,fuse-stratify | filecheck %s --check-prefix=SCAN
// Without the pass, every recursion is a fixpoint:
// RUN: fuse-opt %s -p fuse-stratify | filecheck %s --check-prefix=NOSCAN

// NOSCAN-NOT: fuse.scan

builtin.module {
  fuse.program {
    fuse.tensor @W[i, j] input : tensor<4x4xf32>
    fuse.tensor @U[i, t] input : tensor<4x6xf32>
    fuse.tensor @X0[i] input : tensor<4xf32>
    fuse.tensor @L[l, j, k] input : tensor<3x4x4xf32>
    fuse.tensor @E[x, y] input : tensor<4x4xf32>

    // The paper's RNN, X[i, t+1] = sig(W[i, j] X[j, t] + U[i, t]):
    // CHECK: fuse.tensor @X[i, d1] {fuse.scan_axis = 1 : i64} : tensor<4x7xf32>
    // SCAN:      %X = fuse.scan steps 6 axis 1 in_axes [1] tensors ["X"] (%X0 : tensor<4xf32>) over (%U : tensor<4x6xf32>) -> tensor<4x7xf32> {
    // SCAN-NEXT: ^{{.*}}(%[[STATE:.*]]: tensor<4xf32>, %[[UT:.*]]: tensor<4xf32>):
    // SCAN-NEXT:   %[[MV:.*]] = fuse.einsum "ab,b->a" sum (%W, %[[STATE]]) : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4xf32>
    // SCAN-NEXT:   %[[SUM:.*]] = fuse.binary add "a,a->a" (%[[MV]], %[[UT]])
    // SCAN-NEXT:   %[[NEXT:.*]] = fuse.unary sig %[[SUM]] : tensor<4xf32>
    // SCAN-NEXT:   fuse.yield %[[NEXT]] : tensor<4xf32>
    fuse.tensor @X[i, d1] : tensor<4x7xf32>
    fuse.rule @X[i, 0] sum {
      %0 = fuse.load @X0[i] : !fuse.expr<i>
      fuse.yield %0 : !fuse.expr<i>
    }
    fuse.rule @X[i, t + 1] sum {
      %1 = fuse.load @W[i, j] : !fuse.expr<i, j>
      %2 = fuse.load @X[j, t] : !fuse.expr<j, t>
      %3 = fuse.arith mul %1, %2 : !fuse.expr<i, j>, !fuse.expr<j, t>
      %4 = fuse.project sum [j] %3 : !fuse.expr<i, j, t>
      %5 = fuse.load @U[i, t] : !fuse.expr<i, t>
      %6 = fuse.arith add %4, %5 : !fuse.expr<i, t>, !fuse.expr<i, t>
      %7 = fuse.call sig(%6) : (!fuse.expr<i, t>) -> !fuse.expr<i, t>
      fuse.yield %7 : !fuse.expr<i, t>
    }

    // The MLP by layer, M[i, j] = sig(L[i, j, k] M[i-1, k]): layer i reads
    // its weights L[i] as the scan's slices, from layer 1 on.
    // CHECK: fuse.tensor @M[d0, j] {fuse.scan_axis = 0 : i64} : tensor<3x4xf32>
    // SCAN: %[[LAYERS:.*]] = fuse.window %L affine_map<(d0, d1, d2) -> ((d0 + 1), d1, d2)> : tensor<3x4x4xf32> -> tensor<2x4x4xf32>
    // SCAN: %M = fuse.scan steps 2 axis 0 in_axes [0] tensors ["M"] (%X0 : tensor<4xf32>) over (%[[LAYERS]] : tensor<2x4x4xf32>) -> tensor<3x4xf32> {
    fuse.tensor @M[d0, j] : tensor<3x4xf32>
    fuse.rule @M[0, j] sum {
      %8 = fuse.load @X0[j] : !fuse.expr<j>
      fuse.yield %8 : !fuse.expr<j>
    }
    fuse.rule @M[i, j] sum {
      %9 = fuse.load @L[i, j, k] : !fuse.expr<i, j, k>
      %10 = fuse.load @M[i - 1, k] : !fuse.expr<i, k>
      %11 = fuse.arith mul %9, %10 : !fuse.expr<i, j, k>, !fuse.expr<i, k>
      %12 = fuse.project sum [k] %11 : !fuse.expr<i, j, k>
      %13 = fuse.call sig(%12) : (!fuse.expr<i, j>) -> !fuse.expr<i, j>
      fuse.yield %13 : !fuse.expr<i, j>
    }

    // Backwards in time, B[i, t] = tanh(B[i, t+1] + U[i, t]): a reversed scan.
    // CHECK: fuse.tensor @B[i, d1] {fuse.scan_axis = 1 : i64} : tensor<4x7xf32>
    // SCAN: %B = fuse.scan reverse steps 6 axis 1 in_axes [1] tensors ["B"]
    fuse.tensor @B[i, d1] : tensor<4x7xf32>
    fuse.rule @B[i, 6] sum {
      %14 = fuse.load @X0[i] : !fuse.expr<i>
      fuse.yield %14 : !fuse.expr<i>
    }
    fuse.rule @B[i, t] sum {
      %15 = fuse.load @B[i, t + 1] : !fuse.expr<i, t>
      %16 = fuse.load @U[i, t] : !fuse.expr<i, t>
      %17 = fuse.arith add %15, %16 : !fuse.expr<i, t>, !fuse.expr<i, t>
      %18 = fuse.call tanh(%17) : (!fuse.expr<i, t>) -> !fuse.expr<i, t>
      fuse.yield %18 : !fuse.expr<i, t>
    }

    // Transitive closure reads itself where it writes: a fixpoint.
    // CHECK: fuse.tensor @P[x, y] boolean {fuse.fixpoint_reason = "P reads itself with no index shifted by one: a fixpoint"} : tensor<4x4xf32>
    // SCAN: fuse.fixpoint naive {fuse.fixpoint_reason = "P reads itself with no index shifted by one: a fixpoint", tensors = ["P"]}
    fuse.tensor @P[x, y] boolean : tensor<4x4xf32>
    fuse.rule @P[x, y] sum {
      %19 = fuse.load @E[x, y] : !fuse.expr<x, y>
      %20 = fuse.load @P[x, z] : !fuse.expr<x, z>
      %21 = fuse.load @E[z, y] : !fuse.expr<z, y>
      %22 = fuse.arith mul %20, %21 : !fuse.expr<x, z>, !fuse.expr<z, y>
      %23 = fuse.project sum [z] %22 : !fuse.expr<x, z, y>
      %24 = fuse.arith add %19, %23 : !fuse.expr<x, y>, !fuse.expr<x, y>
      fuse.yield %24 : !fuse.expr<x, y>
    }

    // Two steps back: a scan steps by one.
    // CHECK: fuse.tensor @F[d0] {fuse.fixpoint_reason = "F reads itself 2 steps away along 't'; a scan steps by one"} : tensor<8xf32>
    fuse.tensor @F[d0] : tensor<8xf32>
    fuse.rule @F[0] sum {
      %25 = fuse.load @X0[0] : !fuse.expr<>
      fuse.yield %25 : !fuse.expr<>
    }
    fuse.rule @F[t + 2] sum {
      %26 = fuse.load @F[t] : !fuse.expr<t>
      %46 = fuse.load @U[0, t] : !fuse.expr<t>
      %47 = fuse.arith add %26, %46 : !fuse.expr<t>, !fuse.expr<t>
      %27 = fuse.call tanh(%47) : (!fuse.expr<t>) -> !fuse.expr<t>
      fuse.yield %27 : !fuse.expr<t>
    }

    // The initial position written by the recurrence too.
    // CHECK: fuse.tensor @G[i, d1] {fuse.fixpoint_reason = "another equation of G writes position 3 of dimension 1, which the recurrence writes too"} : tensor<4x7xf32>
    fuse.tensor @G[i, d1] : tensor<4x7xf32>
    fuse.rule @G[i, 3] sum {
      %28 = fuse.load @X0[i] : !fuse.expr<i>
      fuse.yield %28 : !fuse.expr<i>
    }
    fuse.rule @G[i, t + 1] sum {
      %29 = fuse.load @G[i, t] : !fuse.expr<i, t>
      %30 = fuse.load @U[i, t] : !fuse.expr<i, t>
      %31 = fuse.arith add %29, %30 : !fuse.expr<i, t>, !fuse.expr<i, t>
      fuse.yield %31 : !fuse.expr<i, t>
    }

    // Two tensors that read each other, the paper's GNN layer in small:
    // C[t] = A[t] U[0, t] reads A's previous step, A[t+1] = tanh(C[t]) the
    // C this step computed. One scan carries both, C computed first (its
    // initial state is zeros no step reads).
    // CHECK: fuse.tensor @A[d0] {fuse.scan_axis = 0 : i64} : tensor<7xf32>
    // CHECK: fuse.tensor @C[t] {fuse.scan_axis = 0 : i64} : tensor<6xf32>
    // SCAN:      %[[CS:.*]], %A = fuse.scan steps 6 axis 0 in_axes [1] tensors ["C", "A"] (%{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>) over (%U : tensor<4x6xf32>) -> tensor<7xf32>, tensor<7xf32> {
    // SCAN-NEXT: ^{{.*}}(%[[C:.*]]: tensor<f32>, %[[A:.*]]: tensor<f32>, %[[UT:.*]]: tensor<4xf32>):
    // SCAN-NEXT:   %[[U0:.*]] = fuse.window %[[UT]] affine_map<() -> (0)> : tensor<4xf32> -> tensor<f32>
    // SCAN-NEXT:   %[[CNEXT:.*]] = fuse.einsum ",->" sum (%[[A]], %[[U0]])
    // SCAN-NEXT:   %[[ANEXT:.*]] = fuse.unary tanh %[[CNEXT]] : tensor<f32>
    // SCAN-NEXT:   fuse.yield %[[CNEXT]], %[[ANEXT]] : tensor<f32>, tensor<f32>
    // SCAN-NEXT: }
    // The C the scan started from is no step of C:
    // SCAN-NEXT: %C{{.*}} = fuse.window %[[CS]] affine_map<(d0) -> ((d0 + 1))> : tensor<7xf32> -> tensor<6xf32>
    fuse.tensor @A[d0] : tensor<7xf32>
    fuse.tensor @C[t] : tensor<6xf32>
    fuse.rule @A[t + 1] sum {
      %32 = fuse.load @C[t] : !fuse.expr<t>
      %49 = fuse.call tanh(%32) : (!fuse.expr<t>) -> !fuse.expr<t>
      fuse.yield %49 : !fuse.expr<t>
    }
    fuse.rule @C[t] sum {
      %33 = fuse.load @A[t] : !fuse.expr<t>
      %48 = fuse.load @U[0, t] : !fuse.expr<t>
      %50 = fuse.arith mul %33, %48 : !fuse.expr<t>, !fuse.expr<t>
      fuse.yield %50 : !fuse.expr<t>
    }

    // Two tensors that read each other at the same step: no order computes
    // either first.
    // CHECK: fuse.tensor @D[d0] {fuse.fixpoint_reason = "D, H read each other at the same step of their index: a fixpoint"} : tensor<7xf32>
    // SCAN: fuse.fixpoint naive {fuse.fixpoint_reason = "D, H read each other at the same step of their index: a fixpoint", tensors = ["D", "H"]}
    fuse.tensor @D[d0] : tensor<7xf32>
    fuse.tensor @H[t] : tensor<6xf32>
    fuse.rule @D[t + 1] sum {
      %34 = fuse.load @H[t] : !fuse.expr<t>
      %51 = fuse.load @U[0, t] : !fuse.expr<t>
      %52 = fuse.arith mul %34, %51 : !fuse.expr<t>, !fuse.expr<t>
      fuse.yield %52 : !fuse.expr<t>
    }
    fuse.rule @H[t] sum {
      %35 = fuse.load @D[t + 1] : !fuse.expr<t>
      fuse.yield %35 : !fuse.expr<t>
    }

    // N[t] = K[t] steps one value further than K[t+1] = N[t] U[0, t]: the
    // scan steps both 6 times, then N[6] = K[6] is computed from the
    // finished K (nothing reads N's previous step, so N can go on alone).
    // CHECK: fuse.tensor @K[d0] {fuse.scan_axis = 0 : i64} : tensor<7xf32>
    // CHECK: fuse.tensor @N[t] {fuse.scan_axis = 0 : i64} : tensor<7xf32>
    // SCAN:      %[[NS:.*]], %K = fuse.scan steps 6 axis 0 in_axes [1] tensors ["N", "K"]
    // SCAN:      %[[NSTEPS:.*]] = fuse.window %[[NS]] affine_map<(d0) -> ((d0 + 1))> : tensor<7xf32> -> tensor<6xf32>
    // SCAN:      %[[NSCAN:.*]] = fuse.concat axis 0 (%[[NSTEPS]], %{{.*}}) : (tensor<6xf32>, tensor<1xf32>) -> tensor<7xf32>
    // SCAN-NEXT: %[[KLAST:.*]] = fuse.window %K affine_map<(d0) -> ((d0 + 6))> : tensor<7xf32> -> tensor<1xf32>
    // SCAN-NEXT: %[[NLAST:.*]] = fuse.place %[[KLAST]] affine_map<(d0) -> ((d0 + 6))> sum : tensor<1xf32> -> tensor<7xf32>
    // SCAN-NEXT: %N{{.*}} = fuse.binary add "a,a->a" (%[[NSCAN]], %[[NLAST]])
    fuse.tensor @K[d0] : tensor<7xf32>
    fuse.tensor @N[t] : tensor<7xf32>
    fuse.rule @K[t + 1] sum {
      %36 = fuse.load @N[t] : !fuse.expr<t>
      %53 = fuse.load @U[0, t] : !fuse.expr<t>
      %54 = fuse.arith mul %36, %53 : !fuse.expr<t>, !fuse.expr<t>
      fuse.yield %54 : !fuse.expr<t>
    }
    fuse.rule @N[t] sum {
      %37 = fuse.load @K[t] : !fuse.expr<t>
      fuse.yield %37 : !fuse.expr<t>
    }

    fuse.export @X
    fuse.export @M
    fuse.export @B
    fuse.export @P
    fuse.export @F
    fuse.export @G
    fuse.export @A
    fuse.export @C
    fuse.export @D
    fuse.export @K
    fuse.export @N
  }
}
