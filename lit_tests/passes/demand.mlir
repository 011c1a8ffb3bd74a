// RUN: fuse-opt %s --split-input-file -p fuse-canonicalize-projections,fuse-demand | filecheck %s

// A left-linear closure queried from one node: the constant is substituted
// and passed on by the recursion, so Path_cf recurses over one row. The
// program's own outputs stay (a query never suppresses exports or sinks):
// Path, Deg and the sink are kept, and the answer is exported after them.
//   Path(x, y) = Edge(x, y)
//   Path(x, z) += Path(x, y) Edge(y, z)
//   Deg[x] = Edge(x, y)
//   export Path
//   "deg.npy" = Deg[x]
//   Path(3, y)?

// CHECK-LABEL: fuse.program {
// CHECK-NEXT:    fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @Edge[x, y] input : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @Deg[x] : tensor<?xf32>
// CHECK-NEXT:    fuse.tensor @Path_cf[y] boolean : tensor<?xf32>
// CHECK-NEXT:    fuse.tensor @Query_Path[y] : tensor<?xf32>
// CHECK:         fuse.export @Path
// CHECK-NEXT:    fuse.sink "deg.npy" {
// CHECK:         fuse.rule @Path_cf[y] sum {
// CHECK-NEXT:      %{{.*}} = fuse.load @Edge[3, y] : !fuse.expr<y>
// CHECK-NEXT:      %[[CF:.*]] = fuse.load @Path_cf[y_1] : !fuse.expr<y_1>
// CHECK-NEXT:      %[[E:.*]] = fuse.load @Edge[y_1, y] : !fuse.expr<y_1, y>
// CHECK-NEXT:      %{{.*}} = fuse.arith mul %[[CF]], %[[E]] : !fuse.expr<y_1>, !fuse.expr<y_1, y>
// CHECK-NEXT:      %{{.*}} = fuse.project sum [y_1] %{{.*}} : !fuse.expr<y_1, y>
// CHECK-NEXT:      %{{.*}} = fuse.arith add %{{.*}}, %{{.*}} : !fuse.expr<y>, !fuse.expr<y>
// CHECK-NEXT:      fuse.yield %{{.*}} : !fuse.expr<y>
// CHECK-NEXT:    }
// CHECK-NEXT:    fuse.rule @Query_Path[y] sum {
// CHECK-NEXT:      %[[A:.*]] = fuse.load @Path_cf[y] : !fuse.expr<y>
// CHECK-NEXT:      fuse.yield %[[A]] : !fuse.expr<y>
// CHECK-NEXT:    }
// CHECK-NEXT:    fuse.export @Query_Path
// CHECK-NEXT:  }

fuse.program {
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.tensor @Edge[x, y] input : tensor<?x?xf32>
  fuse.tensor @Deg[x] : tensor<?xf32>
  fuse.rule @Path[x, y] sum {
    %0 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
    fuse.yield %0 : !fuse.expr<x, y>
  }
  fuse.rule @Path[x, z] sum {
    %1 = fuse.load @Path[x, y] : !fuse.expr<x, y>
    %2 = fuse.load @Edge[y, z] : !fuse.expr<y, z>
    %3 = fuse.arith mul %1, %2 : !fuse.expr<x, y>, !fuse.expr<y, z>
    fuse.yield %3 : !fuse.expr<x, y, z>
  }
  fuse.rule @Deg[x] sum {
    %4 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
    fuse.yield %4 : !fuse.expr<x, y>
  }
  fuse.export @Path
  fuse.sink "deg.npy" {
    %5 = fuse.load @Deg[x] : !fuse.expr<x>
    fuse.yield %5 : !fuse.expr<x>
  }
  fuse.query @Path[3, y]
}

// -----

// A right-linear closure: Edge(x, y) binds y sideways, so the recursive
// read Path(y, z) is bound (b) on the nodes the magic tensor collects,
// seeded where the constant enters (|Edge(3, x)|) and grown along Edge.
// Path_bf is guarded by it; Path_cf reads Path_bf.
//   Path(x, y) = Edge(x, y)
//   Path(x, z) += Edge(x, y) Path(y, z)
//   Path(3, y)?

// CHECK-LABEL: fuse.program {
// CHECK-NEXT:    fuse.tensor @Edge[x, y] input : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @Path_cf[y] boolean : tensor<?xf32>
// CHECK-NEXT:    fuse.tensor @Path_bf[x, y] boolean : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @Magic_Path_bf[x] boolean : tensor<?xf32>
// CHECK-NEXT:    fuse.tensor @Query_Path[y] : tensor<?xf32>
// CHECK-NEXT:    fuse.rule @Magic_Path_bf[x] sum {
// CHECK-NEXT:      %0 = fuse.load @Edge[3, x] : !fuse.expr<x>
// CHECK-NEXT:      %1 = fuse.call abs(%0) : (!fuse.expr<x>) -> !fuse.expr<x>
// CHECK-NEXT:      %2 = fuse.load @Magic_Path_bf[x_1] : !fuse.expr<x_1>
// CHECK-NEXT:      %3 = fuse.load @Edge[x_1, x] : !fuse.expr<x_1, x>
// CHECK-NEXT:      %4 = fuse.call abs(%3) : (!fuse.expr<x_1, x>) -> !fuse.expr<x_1, x>
// CHECK-NEXT:      %5 = fuse.arith mul %2, %4 : !fuse.expr<x_1>, !fuse.expr<x_1, x>
// CHECK-NEXT:      %6 = fuse.project sum [x_1] %5 : !fuse.expr<x_1, x>
// CHECK-NEXT:      %7 = fuse.arith add %1, %6 : !fuse.expr<x>, !fuse.expr<x>
// CHECK-NEXT:      fuse.yield %7 : !fuse.expr<x>
// CHECK-NEXT:    }
// CHECK-NEXT:    fuse.rule @Path_cf[y] sum {
// CHECK-NEXT:      %8 = fuse.load @Edge[3, y] : !fuse.expr<y>
// CHECK-NEXT:      %9 = fuse.load @Edge[3, y_1] : !fuse.expr<y_1>
// CHECK-NEXT:      %10 = fuse.load @Path_bf[y_1, y] : !fuse.expr<y_1, y>
// CHECK:         fuse.rule @Path_bf[x, y] sum {
// CHECK:           %20 = fuse.load @Magic_Path_bf[x] : !fuse.expr<x>
// CHECK-NEXT:      %21 = fuse.arith mul %20, %19 : !fuse.expr<x>, !fuse.expr<x, y>
// CHECK-NEXT:      fuse.yield %21 : !fuse.expr<x, y>
// CHECK-NEXT:    }
// CHECK-NEXT:    fuse.rule @Query_Path[y] sum {
// CHECK-NEXT:      %22 = fuse.load @Path_cf[y] : !fuse.expr<y>
// CHECK-NEXT:      fuse.yield %22 : !fuse.expr<y>
// CHECK-NEXT:    }
// CHECK-NEXT:    fuse.export @Query_Path
// CHECK-NEXT:  }

fuse.program {
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.tensor @Edge[x, y] input : tensor<?x?xf32>
  fuse.rule @Path[x, y] sum {
    %0 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
    fuse.yield %0 : !fuse.expr<x, y>
  }
  fuse.rule @Path[x, z] sum {
    %1 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
    %2 = fuse.load @Path[y, z] : !fuse.expr<y, z>
    %3 = fuse.arith mul %1, %2 : !fuse.expr<x, y>, !fuse.expr<y, z>
    fuse.yield %3 : !fuse.expr<x, y, z>
  }
  fuse.query @Path[3, y]
}

// -----

// Without a query the pass changes nothing.

// CHECK-LABEL: fuse.program {
// CHECK-NEXT:    fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @Edge[x, y] input : tensor<?x?xf32>
// CHECK-NEXT:    fuse.rule @Path[x, y] sum {
// CHECK:         fuse.export @Path
// CHECK-NEXT:  }

fuse.program {
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.tensor @Edge[x, y] input : tensor<?x?xf32>
  fuse.rule @Path[x, y] sum {
    %0 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
    fuse.yield %0 : !fuse.expr<x, y>
  }
  fuse.export @Path
}
