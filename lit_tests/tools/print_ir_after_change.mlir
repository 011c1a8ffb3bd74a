// --mlir-print-ir-after-change keeps only the dumps of passes that changed
// the IR: cse merges the two relus, the second cse and dce find nothing.
// --mlir-print-ir-after=PASS dumps after the named pass only.
// RUN: fuse-opt %s -p cse,dce,cse --mlir-print-ir-after-all --mlir-print-ir-after-change 2>&1 >/dev/null | filecheck %s --check-prefix=CHANGE
// RUN: fuse-opt %s -p cse,dce --mlir-print-ir-after=dce 2>&1 >/dev/null | filecheck %s --check-prefix=AFTER

// CHANGE:      // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// CHANGE-NEXT: builtin.module {
// CHANGE-NOT:  IR Dump

// AFTER-NOT:  IR Dump After CommonSubexpressionElimination
// AFTER:      // -----// IR Dump After DeadCodeElimination (dce) //----- //
// AFTER-NOT:  IR Dump

func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
  %a = fuse.unary relu %X : tensor<4xf32>
  %b = fuse.unary relu %X : tensor<4xf32>
  %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %c : tensor<4xf32>
}
