// RUN: not fuse-opt %s -p convert-fuse-to-stablehlo 2>&1 | filecheck %s
// StableHLO needs static shapes: a dynamic dimension is a clear error.

// CHECK: convert-fuse-to-stablehlo: StableHLO needs static shapes, but argument %X of @main has type tensor<?x3xf32>
func.func @main(%X: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = fuse.unary exp %X : tensor<?x3xf32>
  func.return %0 : tensor<?x3xf32>
}
