// --mlir-timing prints MLIR's wall-time report to stderr: parsing, the
// verifier, each pass by name, output, and the total at 100%.
// --dump-pass-pipeline prints the pipeline, options included, before it runs.
// RUN: fuse-opt %s -p cse,fuse-einsum-path{strategy=greedy} --mlir-timing 2>&1 >/dev/null | filecheck %s
// RUN: fuse-opt %s --pass-pipeline='builtin.module(cse, fuse-einsum-path{strategy=greedy})' --dump-pass-pipeline 2>&1 >/dev/null | filecheck %s --check-prefix=PIPELINE

// CHECK:      ===-------------------------------------------------------------------------===
// CHECK-NEXT: ... Execution time report ...
// CHECK-NEXT: ===-------------------------------------------------------------------------===
// CHECK-NEXT:   Total Execution Time: {{[0-9.]+}} seconds
// CHECK:        ----Wall Time----  ----Name----
// CHECK-NEXT:   {{[0-9.]+}} ({{ *[0-9.]+}}%)  Parser
// CHECK-NEXT:   {{[0-9.]+}} ({{ *[0-9.]+}}%)  Verifier
// CHECK-NEXT:   {{[0-9.]+}} ({{ *[0-9.]+}}%)  CommonSubexpressionElimination
// CHECK-NEXT:   {{[0-9.]+}} ({{ *[0-9.]+}}%)  EinsumPath
// CHECK-NEXT:   {{[0-9.]+}} ({{ *[0-9.]+}}%)  Output
// CHECK-NEXT:   {{[0-9.]+}} (100.0%)  Total

// PIPELINE:      Pass Manager with 2 passes:
// PIPELINE-NEXT: builtin.module(cse,fuse-einsum-path{strategy="greedy"})

func.func @f(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) -> tensor<4x3xf32> {
  %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}
