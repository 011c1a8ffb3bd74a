// RUN: fuse-opt %s -p 'fuse-einsum-path{strategy=greedy}' | filecheck %s --check-prefix=GREEDY
// RUN: fuse-opt %s -p 'fuse-einsum-path{strategy=optimal}' | filecheck %s --check-prefix=BEST
// RUN: fuse-opt %s -p 'fuse-einsum-path{strategy=branch}' | filecheck %s --check-prefix=BEST
// RUN: fuse-opt %s -p 'fuse-einsum-path{strategy=auto}' | filecheck %s --check-prefix=BEST
// RUN: fuse-opt %s -p fuse-einsum-path | filecheck %s --check-prefix=BEST
// RUN: fuse-opt %s --pass-pipeline='builtin.module(fuse-einsum-path{strategy=dp})' | filecheck %s --check-prefix=DP
// RUN: not fuse-opt %s -p 'fuse-einsum-path{strategy=fast}' 2>&1 | filecheck %s --check-prefix=BAD

// A ring where greedy's cheapest first pair (A B, 250 flops) is not the best
// start: optimal, branch (opt_einsum's branch-2) and auto (the default)
// contract the two ends with the small d first, 330 flops in all against
// greedy's 430; dp finds another 330-flop tree.

// GREEDY:      fuse.einsum "ab,bc->ac" sum (%A, %B) {flops = 250 : i64}
// GREEDY-NEXT: fuse.einsum "cd,ac->da" sum (%C, %{{.*}}) {flops = 150 : i64}
// GREEDY-NEXT: %t = fuse.einsum "da,da->" sum (%D, %{{.*}}) {fuse.contraction_path = {{\[}}[0 : i64, 1 : i64], [0 : i64, 2 : i64], [0 : i64, 1 : i64]], flops = 30 : i64}

// BEST:      fuse.einsum "ab,da->bd" sum (%A, %D) {flops = 150 : i64}
// BEST-NEXT: fuse.einsum "bc,cd->bd" sum (%B, %C) {flops = 150 : i64}
// BEST-NEXT: %t = fuse.einsum "bd,bd->" sum (%{{.*}}, %{{.*}}) {fuse.contraction_path = {{\[}}[0 : i64, 3 : i64], [0 : i64, 1 : i64], [0 : i64, 1 : i64]], flops = 30 : i64}

// DP:      fuse.einsum "ab,da->bd" sum (%A, %D) {flops = 150 : i64}
// DP-NEXT: fuse.einsum "bc,bd->cd" sum (%B, %{{.*}}) {flops = 150 : i64}
// DP-NEXT: %t = fuse.einsum "cd,cd->" sum (%C, %{{.*}}) {fuse.contraction_path = {{\[}}[0 : i64, 3 : i64], [0 : i64, 2 : i64], [0 : i64, 1 : i64]], flops = 30 : i64}

// BAD: invalid options for pass 'fuse-einsum-path': strategy 'fast' is not one of auto, greedy, optimal, dp, branch

func.func @ring(%A: tensor<5x5xf32>, %B: tensor<5x5xf32>, %C: tensor<5x3xf32>, %D: tensor<3x5xf32>) -> tensor<f32> {
  %t = fuse.einsum "ab,bc,cd,da->" sum (%A, %B, %C, %D) : (tensor<5x5xf32>, tensor<5x5xf32>, tensor<5x3xf32>, tensor<3x5xf32>) -> tensor<f32>
  func.return %t : tensor<f32>
}
