// fuse.normalize: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @normalize
func.func @normalize(%X: tensor<4x6xf32>, %M: tensor<4x6xf32>, %D: tensor<?x?x?xf32>) -> tensor<4x6xf32> {
  // CHECK-NEXT: %soft = fuse.normalize softmax axis 1 (%X) : (tensor<4x6xf32>) -> tensor<4x6xf32>
  // CHECK-NEXT: %soft0 = fuse.normalize softmax axis 0 (%X) {note = 1 : i64} : (tensor<4x6xf32>) -> tensor<4x6xf32>
  // CHECK-NEXT: %masked = fuse.normalize softmax axis 1 (%X, %M) : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  // CHECK-NEXT: %ln = fuse.normalize lnorm axis 1 (%X) : (tensor<4x6xf32>) -> tensor<4x6xf32>
  // CHECK-NEXT: %lneps = fuse.normalize lnorm axis 2 (%D) {note = 2 : i64, eps = 1.000000e-05 : f32} : (tensor<?x?x?xf32>) -> tensor<?x?x?xf32>
  %soft = fuse.normalize softmax axis 1 (%X) : (tensor<4x6xf32>) -> tensor<4x6xf32>
  %soft0 = fuse.normalize softmax axis 0 (%X) {note = 1 : i64} : (tensor<4x6xf32>) -> tensor<4x6xf32>
  %masked = fuse.normalize softmax axis 1 (%X, %M) : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  %ln = fuse.normalize lnorm axis 1 (%X) : (tensor<4x6xf32>) -> tensor<4x6xf32>
  %lneps = fuse.normalize lnorm axis 2 (%D) {note = 2 : i64, eps = 1.0e-05 : f32} : (tensor<?x?x?xf32>) -> tensor<?x?x?xf32>
  func.return %soft : tensor<4x6xf32>
}

// GENERIC: "fuse.normalize"(%X) <{kind = "softmax", axis = 1 : i64}> : (tensor<4x6xf32>) -> tensor<4x6xf32>
// GENERIC: "fuse.normalize"(%X, %M) <{kind = "softmax", axis = 1 : i64}> : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
// GENERIC: "fuse.normalize"(%D) <{kind = "lnorm", axis = 2 : i64, eps = 1.000000e-05 : f32}> {note = 2 : i64}
