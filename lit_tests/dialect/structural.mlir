// fuse.take, fuse.concat and fuse.topk: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @structural
func.func @structural(%A: tensor<5x4xf32>, %B: tensor<5x3xf32>, %D: tensor<?x?xf32>) -> tensor<5x7xf32> {
  // CHECK-NEXT: %row = fuse.take %A dim 0 index 3 : tensor<5x4xf32> -> tensor<4xf32>
  // CHECK-NEXT: %col = fuse.take %A dim 1 index 0 {note = 1 : i64} : tensor<5x4xf32> -> tensor<5xf32>
  // CHECK-NEXT: %dyn = fuse.take %D dim 1 index 100 : tensor<?x?xf32> -> tensor<?xf32>
  %row = fuse.take %A dim 0 index 3 : tensor<5x4xf32> -> tensor<4xf32>
  %col = fuse.take %A dim 1 index 0 {note = 1 : i64} : tensor<5x4xf32> -> tensor<5xf32>
  %dyn = fuse.take %D dim 1 index 100 : tensor<?x?xf32> -> tensor<?xf32>

  // CHECK-NEXT: %cat = fuse.concat axis 1 (%A, %B) : (tensor<5x4xf32>, tensor<5x3xf32>) -> tensor<5x7xf32>
  // CHECK-NEXT: %cat3 = fuse.concat axis 0 (%A, %A, %A) {note = 2 : i64} : (tensor<5x4xf32>, tensor<5x4xf32>, tensor<5x4xf32>) -> tensor<15x4xf32>
  %cat = fuse.concat axis 1 (%A, %B) : (tensor<5x4xf32>, tensor<5x3xf32>) -> tensor<5x7xf32>
  %cat3 = fuse.concat axis 0 (%A, %A, %A) {note = 2 : i64} : (tensor<5x4xf32>, tensor<5x4xf32>, tensor<5x4xf32>) -> tensor<15x4xf32>

  // CHECK-NEXT: %top = fuse.topk k 2 axis 1 %cat : tensor<5x7xf32>
  // CHECK-NEXT: %top0 = fuse.topk k 1 axis 0 %D {note = 3 : i64} : tensor<?x?xf32>
  %top = fuse.topk k 2 axis 1 %cat : tensor<5x7xf32>
  %top0 = fuse.topk k 1 axis 0 %D {note = 3 : i64} : tensor<?x?xf32>
  func.return %top : tensor<5x7xf32>
}

// GENERIC: "fuse.take"(%A) <{dim = 0 : i64, position = 3 : i64}> : (tensor<5x4xf32>) -> tensor<4xf32>
// GENERIC: "fuse.concat"(%A, %B) <{axis = 1 : i64}> : (tensor<5x4xf32>, tensor<5x3xf32>) -> tensor<5x7xf32>
// GENERIC: "fuse.topk"(%cat) <{k = 2 : i64, axis = 1 : i64}> : (tensor<5x7xf32>) -> tensor<5x7xf32>
