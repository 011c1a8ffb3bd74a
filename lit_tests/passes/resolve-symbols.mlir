// RUN: fuse-opt %s --split-input-file -p fuse-resolve-symbols --verify-diagnostics | filecheck %s

// The domain table of `Parent(Alice, Bob)`, `Parent(Bob, Carol)` and
// `Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)`: one domain over every
// position, symbols in order of first appearance. It agrees with the
// program, so the pass leaves the IR as it is.
fuse.program attributes {fuse.domains = {"Parent#0" = {positions = ["Parent#0", "Parent#1", "Ancestor#0", "Ancestor#1"], size = 3 : i64, symbols = ["Alice", "Bob", "Carol"]}}} {
  fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
  fuse.tensor @Ancestor[x, z] boolean : tensor<?x?xf32>
  fuse.facts @Parent dense<[[0, 1], [1, 2]]> : tensor<2x2xi64> values dense<1.0> : tensor<2xf32>
  fuse.rule @Ancestor[x, z] sum {
    %0 = fuse.load @Ancestor[x, y] : !fuse.expr<x, y>
    %1 = fuse.load @Parent[y, z] : !fuse.expr<y, z>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<x, y>, !fuse.expr<y, z>
    fuse.yield %2 : !fuse.expr<x, y, z>
  }
  fuse.query @Ancestor[0, x]
}

// CHECK:      fuse.program attributes {fuse.domains = {"Parent#0" = {positions = ["Parent#0", "Parent#1", "Ancestor#0", "Ancestor#1"], size = 3 : i64, symbols = ["Alice", "Bob", "Carol"]}}} {
// CHECK-NEXT:   fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
// CHECK:        fuse.query @Ancestor[0, x]

// -----

// A rule joining positions of two domains would pair unrelated symbols.
fuse.program attributes {fuse.domains = {"Parent#0" = {positions = ["Parent#0", "Parent#1"], size = 2 : i64, symbols = ["Alice", "Bob"]}, "Likes#0" = {positions = ["Likes#0", "Likes#1"], size = 2 : i64, symbols = ["Tea", "Jam"]}}} {
  fuse.tensor @Parent[a, b] boolean : tensor<2x2xf32>
  fuse.tensor @Likes[a, b] boolean : tensor<2x2xf32>
  fuse.tensor @Q[x, z] boolean : tensor<?x?xf32>
  fuse.rule @Q[x, z] sum {
    %0 = fuse.load @Parent[x, y] : !fuse.expr<x, y>
    %1 = fuse.load @Likes[y, z] : !fuse.expr<y, z>
    %2 = fuse.arith mul %0, %1 : !fuse.expr<x, y>, !fuse.expr<y, z>
    fuse.yield %2 : !fuse.expr<x, y, z>
  }
}

// CHECK: index 'x' joins Q#0 (in no domain) and Parent#0 (domain 'Parent#0'): positions that share an index variable share a domain

// -----

// A relation given by facts is as large as its domains.
fuse.program attributes {fuse.domains = {"P#0" = {positions = ["P#0"], size = 3 : i64, symbols = ["A", "B", "C"]}}} {
  fuse.tensor @P[a] boolean : tensor<2xf32>
  fuse.facts @P dense<[[0], [1]]> : tensor<2x1xi64> values dense<1.0> : tensor<2xf32>
}

// CHECK: @P has size 2 in dimension 0, but its domain 'P#0' has 3 elements

// -----

// Every position names a dimension of a declared tensor, in one domain.
fuse.program attributes {fuse.domains = {"P#0" = {positions = ["P#0", "P#1"], size = 1 : i64, symbols = ["A"]}}} {
  fuse.tensor @P[a] boolean : tensor<1xf32>
}

// CHECK: domain position P#1 names no dimension of a declared tensor

// -----

fuse.program attributes {fuse.domains = {"P#0" = {positions = ["P#0"], size = 1 : i64, symbols = ["A"]}, "Q#0" = {positions = ["Q#0", "P#0"], size = 1 : i64, symbols = ["A"]}}} {
  fuse.tensor @P[a] boolean : tensor<1xf32>
  fuse.tensor @Q[a] boolean : tensor<1xf32>
}

// CHECK: position P#0 is in two domains, 'P#0' and 'Q#0'

// -----

fuse.program attributes {fuse.domains = {"P#0" = {positions = ["P#0"], size = 1 : i64, symbols = ["A", "B"]}}} {
  fuse.tensor @P[a] boolean : tensor<1xf32>
}

// CHECK: domain 'P#0' has 2 symbols for size 1, or a symbol twice

// -----

fuse.program attributes {fuse.domains = {"P#0" = {positions = "P#0", size = 1 : i64, symbols = ["A"]}}} {
  fuse.tensor @P[a] boolean : tensor<1xf32>
}

// CHECK: domain 'P#0' needs positions = [strings], size = integer and symbols = [strings]
