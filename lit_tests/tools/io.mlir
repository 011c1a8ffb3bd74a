// Input from stdin (no file argument, or `-`), --split-input-file and
// --print-op-generic.
// RUN: fuse-opt < %s | filecheck %s
// RUN: fuse-opt - < %s | filecheck %s
// RUN: fuse-opt %s --split-input-file | filecheck %s --check-prefix=SPLIT
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK:      func.func @first() -> tensor<2xf32> {
// CHECK-NEXT:   %c = fuse.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK:      func.func @second

// SPLIT:      func.func @first
// (The separator is spelled as a regex: the literal would split this file.)
// SPLIT:      {{^// -{5}$}}
// SPLIT-NEXT: builtin.module {
// SPLIT-NEXT:   func.func @second

// GENERIC: "fuse.constant"() <{value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>}> : () -> tensor<2xf32>

func.func @first() -> tensor<2xf32> {
  %c = fuse.constant dense<[1.0, 2.0]> : tensor<2xf32>
  func.return %c : tensor<2xf32>
}

// -----

func.func @second() {
  func.return
}
