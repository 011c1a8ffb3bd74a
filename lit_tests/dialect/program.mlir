// fuse.program, fuse.tensor and fuse.export: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: fuse.program {
// CHECK-NEXT:    fuse.tensor @Edge[x, y] input boolean : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
// CHECK-NEXT:    fuse.tensor @W[i, "p'"] source "w.npy" : tensor<3x4xf32>
// CHECK-NEXT:    fuse.tensor @S[] : tensor<f32>
// CHECK-NEXT:    fuse.tensor @T[i] {note = "kept"} : tensor<5xf32>
// CHECK-NEXT:    fuse.export @Path
// CHECK-NEXT:    fuse.export @W {note = 1 : i64}
// CHECK-NEXT:  }
// CHECK-NEXT:  fuse.program attributes {name = "second"} {
// CHECK-NEXT:    fuse.tensor @X[] : tensor<f32>
// CHECK-NEXT:  }
// An empty program prints its (empty) block explicitly.
// CHECK-NEXT:  fuse.program {
// CHECK-NEXT:  ^bb0:
// CHECK-NEXT:  }

// GENERIC: "fuse.tensor"() <{sym_name = "Edge", indices = #fuse.indices<x, y>, tensor_type = tensor<?x?xf32>, input, boolean}> : () -> ()
// GENERIC: "fuse.export"() <{tensor = @Path}> : () -> ()

fuse.program {
  fuse.tensor @Edge[x, y] input boolean : tensor<?x?xf32>
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.tensor @W[i, "p'"] source "w.npy" : tensor<3x4xf32>
  fuse.tensor @S[] : tensor<f32>
  fuse.tensor @T[i] {note = "kept"} : tensor<5xf32>
  fuse.export @Path
  fuse.export @W {note = 1 : i64}
}
fuse.program attributes {name = "second"} {
  fuse.tensor @X[] : tensor<f32>
}
fuse.program {
^bb0:
}
