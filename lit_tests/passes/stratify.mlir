// RUN: fuse-opt %s -p fuse-canonicalize-projections,fuse-infer-shapes,fuse-stratify | filecheck %s

// The declarative form of:
//   Reach(x, y) = Edge(x, y)
//   Reach(x, z) += Reach(x, y) Edge(y, z)
//   Odd(x, y) = Edge(x, y)
//   Odd(x, z) += Even(x, y) Edge(y, z)
//   Even(x, z) = Odd(x, y) Edge(y, z)
//   Deg[x] = Edge(x, y)
//   Alpha[0, x] = Deg[x]
//   Wide[x, y] = Deg[x]
//   Wide[x, y] += Edge(x, y)
//   "out.npy" = Deg[x]
//   export Reach
//   export Odd
//   export Alpha
//   export Wide

builtin.module {
  fuse.program {
    fuse.tensor @Reach[x, y] boolean : tensor<?x?xf32>
    fuse.tensor @Edge[x, y] input : tensor<3x3xf32>
    fuse.tensor @Odd[x, y] boolean : tensor<?x?xf32>
    fuse.tensor @Even[x, z] boolean : tensor<?x?xf32>
    fuse.tensor @Deg[x] : tensor<?xf32>
    fuse.tensor @Alpha[d0, x] : tensor<2x?xf32>
    fuse.tensor @Wide[x, y] : tensor<?x?xf32>
    fuse.rule @Reach[x, y] sum {
      %0 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
      fuse.yield %0 : !fuse.expr<x, y>
    }
    fuse.rule @Reach[x, z] sum {
      %1 = fuse.load @Reach[x, y] : !fuse.expr<x, y>
      %2 = fuse.load @Edge[y, z] : !fuse.expr<y, z>
      %3 = fuse.arith mul %1, %2 : !fuse.expr<x, y>, !fuse.expr<y, z>
      fuse.yield %3 : !fuse.expr<x, y, z>
    }
    fuse.rule @Odd[x, y] sum {
      %4 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
      fuse.yield %4 : !fuse.expr<x, y>
    }
    fuse.rule @Odd[x, z] sum {
      %5 = fuse.load @Even[x, y] : !fuse.expr<x, y>
      %6 = fuse.load @Edge[y, z] : !fuse.expr<y, z>
      %7 = fuse.arith mul %5, %6 : !fuse.expr<x, y>, !fuse.expr<y, z>
      fuse.yield %7 : !fuse.expr<x, y, z>
    }
    fuse.rule @Even[x, z] sum {
      %8 = fuse.load @Odd[x, y] : !fuse.expr<x, y>
      %9 = fuse.load @Edge[y, z] : !fuse.expr<y, z>
      %10 = fuse.arith mul %8, %9 : !fuse.expr<x, y>, !fuse.expr<y, z>
      fuse.yield %10 : !fuse.expr<x, y, z>
    }
    fuse.rule @Deg[x] sum {
      %11 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
      fuse.yield %11 : !fuse.expr<x, y>
    }
    fuse.rule @Alpha[0, x] sum {
      %12 = fuse.load @Deg[x] : !fuse.expr<x>
      fuse.yield %12 : !fuse.expr<x>
    }
    fuse.rule @Wide[x, y] sum {
      %13 = fuse.load @Deg[x] : !fuse.expr<x>
      fuse.yield %13 : !fuse.expr<x>
    }
    fuse.rule @Wide[x, y] sum {
      %14 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
      fuse.yield %14 : !fuse.expr<x, y>
    }
    fuse.sink "out.npy" {
      %15 = fuse.load @Deg[x] : !fuse.expr<x>
      fuse.yield %15 : !fuse.expr<x>
    }
    fuse.export @Reach
    fuse.export @Odd
    fuse.export @Alpha
    fuse.export @Wide
  }
}

// Inputs become arguments; exports and sinks become results.
// CHECK-LABEL: func.func @main(%Edge: tensor<3x3xf32> {fuse.name = "Edge"})
// CHECK-SAME:    -> (tensor<3x3xf32> {fuse.name = "Reach"}, tensor<3x3xf32> {fuse.name = "Odd"}, tensor<2x3xf32> {fuse.name = "Alpha"}, tensor<3x3xf32> {fuse.name = "Wide"}, tensor<3xf32> {fuse.sink = "out.npy", fuse.dims = ["x"]})

// Linear recursion: a naive fixpoint; the Boolean tensor is stepped after its
// two rules are added.
// CHECK:      %Reach = fuse.fixpoint naive {tensors = ["Reach"]} : tensor<3x3xf32> {
// CHECK-NEXT: ^bb0(%[[R:.*]]: tensor<3x3xf32>):
// CHECK-NEXT:   %[[J:.*]] = fuse.einsum "ab,bc->ac" sum (%[[R]], %Edge)
// CHECK-NEXT:   %[[U:.*]] = fuse.binary add "ac,ac->ac" (%Edge, %[[J]])
// CHECK-NEXT:   %[[S:.*]] = fuse.unary step %[[U]]
// CHECK-NEXT:   fuse.yield %[[S]] : tensor<3x3xf32>

// Mutual recursion: one fixpoint for the strongly connected component.
// CHECK:      %Odd, %Even = fuse.fixpoint naive {tensors = ["Odd", "Even"]} : tensor<3x3xf32>, tensor<3x3xf32> {
// CHECK-NEXT: ^bb0(%[[O:.*]]: tensor<3x3xf32>, %[[E:.*]]: tensor<3x3xf32>):
// CHECK:        fuse.einsum "ab,bc->ac" sum (%[[E]], %Edge)
// CHECK:        fuse.einsum "ab,bc->ac" sum (%[[O]], %Edge)
// CHECK:        fuse.yield

// A non-recursive stratum after the recursive ones it does not need.
// CHECK:      %Deg = fuse.einsum "ab->a" sum (%Edge)

// An integer left-hand-side index places the value with a one-hot factor.
// CHECK:      %[[H:.*]] = fuse.index_fn onehot {position = 0 : i64} : tensor<2xf32>
// CHECK-NEXT: %Alpha = fuse.einsum "a,b->ba" sum (%Deg, %[[H]]) : (tensor<3xf32>, tensor<2xf32>) -> tensor<2x3xf32>

// Same-LHS rules over different indices broadcast as they add.
// CHECK:      %Wide = fuse.binary add "a,ab->ab" (%Deg, %Edge)
// CHECK:      func.return %Reach, %Odd, %Alpha, %Wide, %Deg
