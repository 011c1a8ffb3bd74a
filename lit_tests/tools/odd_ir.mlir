// IR that passes xDSL's parser or verifier but used to hang or crash a
// parser or pass: a located error, exit status 1, never a traceback.
// RUN: not fuse-opt %S/Inputs/odd_selfuse.mlir -p fuse-canonicalize-projections 2>&1 | filecheck %s --check-prefix=SELF
// RUN: not fuse-opt %S/Inputs/odd_usebefore.mlir -p fuse-canonicalize-projections 2>&1 | filecheck %s --check-prefix=BEFORE
// RUN: not fuse-opt %S/Inputs/odd_hlo_self.mlir -p convert-fuse-to-stablehlo 2>&1 | filecheck %s --check-prefix=HLO
// RUN: not fuse-opt %S/Inputs/odd_unterminated.mlir 2>&1 | filecheck %s --check-prefix=STRING
// RUN: not fuse-opt %S/Inputs/odd_bigdense.mlir 2>&1 | filecheck %s --check-prefix=DENSE
// RUN: fuse-opt %S/Inputs/odd_entry_label.mlir | filecheck %s --check-prefix=ENTRY
// RUN: not fuse-opt %S/Inputs/odd_second_block.mlir 2>&1 | filecheck %s --check-prefix=SECOND
// RUN: not fuse-opt %S/Inputs/odd_block_arguments.mlir 2>&1 | filecheck %s --check-prefix=ARGS
// RUN: fuse-opt %S/Inputs/odd_zero_divisor.mlir -p fuse-canonicalize-projections,fuse-infer-shapes,fuse-stratify,cse | filecheck %s --check-prefix=ZERO

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

// A label on a region's only block is valid MLIR: accepted, printed without it.
// ENTRY:      fuse.program {
// ENTRY-NEXT:   fuse.tensor @A[i] input : tensor<3xf32>

// SECOND:     odd_second_block.mlir:4:1: error: block ^bb1 is a second block in a 'fuse.program' region; regions in Fuse IR hold a single block
// SECOND-NOT: Traceback

// ARGS:     odd_block_arguments.mlir:2:1: error: the body of 'fuse.program' takes no block arguments
// ARGS-NOT: Traceback

// Division by a literal zero of either sign stays a division (IEEE signed
// infinities at run time), also where the projection would have made the
// divisor a reciprocal factor: no infinite constant is folded.
// ZERO:      %[[NEGZERO:.*]] = fuse.constant dense<-0.000000e+00> : tensor<f32>
// ZERO-NEXT: %Neg = fuse.binary div "ab,->ab" (%A, %[[NEGZERO]])
// ZERO:      %Sum = fuse.einsum "ab->a" sum (%Neg)
// ZERO-NOT:  0xff800000
