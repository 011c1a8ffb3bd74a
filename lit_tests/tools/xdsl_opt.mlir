// xDSL's own driver finds Fuse through the `xdsl.universe` entry point: it
// parses Fuse IR and runs Fuse passes next to its own (here cse).
// RUN: xdsl-opt %s -p fuse-canonicalize-projections,fuse-infer-shapes,fuse-stratify,cse | filecheck %s

// CHECK:      func.func @main(%A: tensor<2x3xf32> {fuse.name = "A"}) -> (tensor<2xf32> {fuse.name = "S"}) {
// CHECK-NEXT:   %S = fuse.einsum "ab->a" sum (%A) : (tensor<2x3xf32>) -> tensor<2xf32>
// CHECK-NEXT:   func.return %S : tensor<2xf32>

fuse.program {
  fuse.tensor @A[i, j] input : tensor<2x3xf32>
  fuse.tensor @S[i] : tensor<2xf32>
  fuse.rule @S[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %0 : !fuse.expr<i, j>
  }
  fuse.export @S
}
