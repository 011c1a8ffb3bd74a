// fuse.einsum: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @einsum
func.func @einsum(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>, %V: tensor<?xf32>) -> tensor<4x3xf32> {
  // CHECK-NEXT: %mm = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %mm = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %mx = fuse.einsum "ik,kj->ij" max (%A, %B) {path = {{\[\[}}0 : i64, 1 : i64]], flops = 192 : i64} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %mx = fuse.einsum "ik,kj->ij" max (%A, %B) {path = [[0, 1]], flops = 192 : i64} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  // Recorded path and flops stay properties next to discardable attributes.
  // CHECK-NEXT: %mean = fuse.einsum "ik->i" mean (%A) {note = "n", flops = 32 : i64} : (tensor<4x8xf32>) -> tensor<4xf32>
  %mean = fuse.einsum "ik->i" mean (%A) {note = "n", flops = 32 : i64} : (tensor<4x8xf32>) -> tensor<4xf32>
  // A dynamic dimension matches any size.
  // CHECK-NEXT: %dot = fuse.einsum "k,k->" sum (%V, %V) : (tensor<?xf32>, tensor<?xf32>) -> tensor<f32>
  %dot = fuse.einsum "k,k->" sum (%V, %V) : (tensor<?xf32>, tensor<?xf32>) -> tensor<f32>
  // CHECK-NEXT: %tr = fuse.einsum "ij->ji" sum (%A) : (tensor<4x8xf32>) -> tensor<8x4xf32>
  %tr = fuse.einsum "ij->ji" sum (%A) : (tensor<4x8xf32>) -> tensor<8x4xf32>
  // CHECK-NEXT: %three = fuse.einsum "ik,kj,k->ij" sum (%A, %B, %V) : (tensor<4x8xf32>, tensor<8x3xf32>, tensor<?xf32>) -> tensor<4x3xf32>
  %three = fuse.einsum "ik,kj,k->ij" sum (%A, %B, %V) : (tensor<4x8xf32>, tensor<8x3xf32>, tensor<?xf32>) -> tensor<4x3xf32>
  func.return %mm : tensor<4x3xf32>
}

// GENERIC: "fuse.einsum"(%A, %B) <{subscripts = "ik,kj->ij", kind = "sum"}> : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
// GENERIC: "fuse.einsum"(%A, %B) <{subscripts = "ik,kj->ij", kind = "max", path = {{\[\[}}0 : i64, 1 : i64]], flops = 192 : i64}>
// GENERIC: "fuse.einsum"(%A) <{subscripts = "ik->i", kind = "mean", flops = 32 : i64}> {note = "n"}
