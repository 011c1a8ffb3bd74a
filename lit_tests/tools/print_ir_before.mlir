// --mlir-print-ir-before=PASS dumps the IR to stderr before each run of PASS;
// --mlir-print-ir-before-all before every pass. stdout keeps the final IR.
// RUN: fuse-opt %s -p cse,dce --mlir-print-ir-before=dce 2>&1 >/dev/null | filecheck %s --check-prefix=ONE
// RUN: fuse-opt %s -p cse,dce --mlir-print-ir-before-all 2>&1 >/dev/null | filecheck %s --check-prefix=ALL
// RUN: not fuse-opt %s -p cse --mlir-print-ir-before=cse-typo 2>&1 | filecheck %s --check-prefix=UNKNOWN

// ONE-NOT:  IR Dump Before CommonSubexpressionElimination
// ONE:      // -----// IR Dump Before DeadCodeElimination (dce) //----- //
// ONE-NEXT: builtin.module {
// ONE:        %c = fuse.binary add "i,i->i" (%a, %a)
// ONE-NOT:  IR Dump

// ALL:      // -----// IR Dump Before CommonSubexpressionElimination (cse) //----- //
// ALL:        %b = fuse.unary relu %X
// ALL:      // -----// IR Dump Before DeadCodeElimination (dce) //----- //
// ALL-NOT:    %b = fuse.unary

// UNKNOWN: fuse-opt: error: unknown pass 'cse-typo' in an IR-printing option

func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
  %a = fuse.unary relu %X : tensor<4xf32>
  %b = fuse.unary relu %X : tensor<4xf32>
  %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %c : tensor<4xf32>
}
