// Both pipeline spellings run xDSL's cse, dce and canonicalize.
// RUN: fuse-opt %s --pass-pipeline='builtin.module(cse)' | filecheck %s --check-prefix=CSE
// RUN: fuse-opt %s --pass-pipeline='builtin.module(cse, dce)' | filecheck %s --check-prefix=CSE
// RUN: fuse-opt %s -p cse,dce | filecheck %s --check-prefix=CSE
// RUN: fuse-opt %s -p 'cse{}' | filecheck %s --check-prefix=CSE
// RUN: fuse-opt %s --pass-pipeline='builtin.module(dce)' | filecheck %s --check-prefix=DCE
// RUN: fuse-opt %s -p canonicalize | filecheck %s --check-prefix=DCE
// RUN: fuse-opt %s --pass-pipeline='builtin.module()' | filecheck %s --check-prefix=NONE
// RUN: fuse-opt %s | filecheck %s --check-prefix=NONE

// xDSL's cse merges %b into %a and also erases the unused pure op.
// CSE-LABEL:  func.func @f
// CSE-NEXT:     %a = fuse.unary relu %X : tensor<4xf32>
// CSE-NEXT:     %c = fuse.binary add "i,i->i" (%a, %a) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CSE-NEXT:     func.return %c : tensor<4xf32>

// DCE-LABEL:  func.func @f
// DCE-NEXT:     %a = fuse.unary relu %X : tensor<4xf32>
// DCE-NEXT:     %b = fuse.unary relu %X : tensor<4xf32>
// DCE-NEXT:     %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// DCE-NEXT:     func.return %c : tensor<4xf32>

// NONE-LABEL: func.func @f
// NONE-NEXT:    %a = fuse.unary relu %X : tensor<4xf32>
// NONE-NEXT:    %b = fuse.unary relu %X : tensor<4xf32>
// NONE-NEXT:    %unused = fuse.unary exp %X : tensor<4xf32>

func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
  %a = fuse.unary relu %X : tensor<4xf32>
  %b = fuse.unary relu %X : tensor<4xf32>
  %unused = fuse.unary exp %X : tensor<4xf32>
  %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %c : tensor<4xf32>
}
