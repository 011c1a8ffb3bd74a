// --print-ir-after-all dumps the IR to stderr after every pass, the last
// one included, under MLIR's header; stdout keeps only the final IR.
// RUN: fuse-opt %s -p cse,dce --print-ir-after-all 2>%t.err >%t.out
// RUN: filecheck %s --check-prefix=DUMP < %t.err
// RUN: filecheck %s --check-prefix=OUT < %t.out
// RUN: fuse-opt %s --pass-pipeline='builtin.module(cse)' --print-ir-after-all --print-op-generic 2>&1 >%t.out | filecheck %s --check-prefix=GENERIC
// RUN: fuse-opt %s --print-ir-after-all 2>&1 >%t.out | filecheck %s --check-prefix=NOPASS --allow-empty

// DUMP:      // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// DUMP-NEXT: builtin.module {
// DUMP:        %a = fuse.unary relu %X : tensor<4xf32>
// DUMP-NEXT:   %c = fuse.binary add "i,i->i" (%a, %a)
// DUMP:      // -----// IR Dump After DeadCodeElimination (dce) //----- //
// DUMP-NEXT: builtin.module {
// DUMP-NOT:  IR Dump

// OUT-NOT:   IR Dump
// OUT:       builtin.module {
// OUT:         %c = fuse.binary add "i,i->i" (%a, %a)

// GENERIC:      // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// GENERIC-NEXT: "builtin.module"() ({

// NOPASS-NOT: IR Dump

func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
  %a = fuse.unary relu %X : tensor<4xf32>
  %b = fuse.unary relu %X : tensor<4xf32>
  %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %c : tensor<4xf32>
}
