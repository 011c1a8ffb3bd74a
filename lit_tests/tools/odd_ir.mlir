// IR that passes xDSL's parser or verifier but used to hang or crash a
// parser or pass: a located error, exit status 1, never a traceback.
// RUN: not fuse-opt %S/Inputs/odd_selfuse.mlir -p fuse-canonicalize-projections 2>&1 | filecheck %s --check-prefix=SELF
// RUN: not fuse-opt %S/Inputs/odd_usebefore.mlir -p fuse-canonicalize-projections 2>&1 | filecheck %s --check-prefix=BEFORE
// RUN: not fuse-opt %S/Inputs/odd_hlo_self.mlir -p convert-fuse-to-stablehlo 2>&1 | filecheck %s --check-prefix=HLO
// RUN: not fuse-opt %S/Inputs/odd_unterminated.mlir 2>&1 | filecheck %s --check-prefix=STRING
// RUN: not fuse-opt %S/Inputs/odd_bigdense.mlir 2>&1 | filecheck %s --check-prefix=DENSE

// SELF:      odd_selfuse.mlir:7:31: error: 'fuse.arith' uses %1, its own result
// SELF-NEXT: %1 = fuse.arith add %0, %1
// SELF-NEXT: {{^ +}}^~{{$}}
// SELF-NOT:  Traceback

// BEFORE:     odd_usebefore.mlir:6:27: error: 'fuse.arith' uses %0, the result of 'fuse.load' before that is defined
// BEFORE-NOT: Traceback

// HLO:     odd_hlo_self.mlir:2:38: error: 'fuse.einsum' uses %0, its own result
// HLO-NOT: Traceback

// STRING:      odd_unterminated.mlir:3:30: error: unterminated string literal
// STRING-NEXT: fuse.tensor @W[i] source "w.npy : tensor<?xf32>
// STRING-NOT:  Traceback

// DENSE:     odd_bigdense.mlir:2:23: error: dense literal of shape 99999999999x99999999999 has 9999999999800000000001 elements, more than the 16777216 allowed
// DENSE-NOT: Traceback
