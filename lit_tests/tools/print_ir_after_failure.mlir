// --mlir-print-ir-after-failure dumps, in generic form, the IR a failing
// pass left, under MLIR's `After ... Failed` header, before the error.
// RUN: not fuse-opt %s -p cse,convert-fuse-to-stablehlo --mlir-print-ir-after-failure 2>&1 | filecheck %s
// RUN: not fuse-opt %s -p cse,convert-fuse-to-stablehlo 2>&1 | filecheck %s --check-prefix=QUIET

// CHECK:      // -----// IR Dump After ConvertFuseToStablehlo Failed (convert-fuse-to-stablehlo) //----- //
// CHECK-NEXT: "builtin.module"() ({
// CHECK:      "fuse.binary"(%a, %a)
// CHECK:      StableHLO needs static shapes, but argument %X of @f has type tensor<?xf32>

// QUIET-NOT: IR Dump
// QUIET:     StableHLO needs static shapes

func.func @f(%X: tensor<?xf32>) -> tensor<?xf32> {
  %a = fuse.unary relu %X : tensor<?xf32>
  %b = fuse.unary relu %X : tensor<?xf32>
  %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  func.return %c : tensor<?xf32>
}
