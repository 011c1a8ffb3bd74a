// -o writes the result to a file, and a failed run leaves no file behind
// (not even a truncated one where a file existed).
// RUN: rm -rf %t && mkdir -p %t
// RUN: fuse-opt %s -p cse -o %t/out.mlir | filecheck %s --check-prefix=EMPTY --allow-empty
// RUN: filecheck %s < %t/out.mlir
// RUN: not fuse-opt %S/Inputs/invalid.mlir -o %t/bad.mlir
// RUN: not ls %t/bad.mlir
// RUN: not fuse-opt %S/Inputs/invalid.mlir -o %t/out.mlir
// RUN: filecheck %s < %t/out.mlir
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(no-such-pass)' -o %t/out.mlir
// RUN: filecheck %s < %t/out.mlir
// No temporary file is left over either.
// RUN: ls -A %t | filecheck %s --check-prefix=LS
// RUN: not fuse-opt %s -o %t/no/such/dir/out.mlir 2>&1 | filecheck %s --check-prefix=NODIR

// EMPTY-NOT: {{.}}

// CHECK:      func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:   %a = fuse.unary relu %X : tensor<4xf32>
// CHECK-NEXT:   func.return %a : tensor<4xf32>

// LS:      {{^}}out.mlir{{$}}
// LS-NOT:  {{.}}

// NODIR: fuse-opt: error: cannot write '{{.*}}/no/such/dir/out.mlir': No such file or directory

func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
  %a = fuse.unary relu %X : tensor<4xf32>
  %b = fuse.unary relu %X : tensor<4xf32>
  func.return %a : tensor<4xf32>
}
