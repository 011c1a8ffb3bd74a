// fuse.query: pretty and generic round trips (the first chunk), then one
// verifier error per chunk.
// RUN: sed '/^\/\/ -----/q' %s | fuse-opt | fuse-opt | filecheck %s
// RUN: sed '/^\/\/ -----/q' %s | fuse-opt --print-op-generic | fuse-opt | filecheck %s
// RUN: sed '/^\/\/ -----/q' %s | fuse-opt --print-op-generic | filecheck %s --check-prefix=GENERIC
// RUN: fuse-opt %s --split-input-file --verify-diagnostics | filecheck %s --check-prefix=ERROR

// CHECK:      fuse.program {
// CHECK-NEXT:   fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
// CHECK-NEXT:   fuse.tensor @V[] : tensor<f32>
// CHECK-NEXT:   fuse.query @Path[3, y]
// CHECK-NEXT:   fuse.query @Path[x, "p'"] {note = 1 : i64}
// CHECK-NEXT:   fuse.query @Path[0, 1]
// CHECK-NEXT:   fuse.query @V[]
// CHECK-NEXT: }

// GENERIC: "fuse.query"() <{tensor = @Path, indices = #fuse.indices<3, y>}> : () -> ()
// GENERIC: "fuse.query"() <{tensor = @Path, indices = #fuse.indices<x, "p'">}> {note = 1 : i64} : () -> ()

fuse.program {
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.tensor @V[] : tensor<f32>
  fuse.query @Path[3, y]
  fuse.query @Path[x, "p'"] {note = 1 : i64}
  fuse.query @Path[0, 1]
  fuse.query @V[]
}

// -----

fuse.program {
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.query @Path[3]
}

// ERROR: fuse.query accesses @Path with 1 indices, but it is declared with rank 2

// -----

fuse.program {
  fuse.query @Path[3, y]
}

// ERROR: fuse.query refers to undeclared tensor @Path

// -----

fuse.query @Path[3, y]

// ERROR: 'fuse.query' expects parent op 'fuse.program'
