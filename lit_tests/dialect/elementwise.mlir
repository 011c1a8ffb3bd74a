// fuse.binary, fuse.select and fuse.unary: pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%X: tensor<4x3xf32>, %B: tensor<3xf32>, %S: tensor<f32>) -> tensor<4x3xf32> {
  // CHECK-NEXT: %add = fuse.binary add "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %sub = fuse.binary sub "ij,->ij" (%X, %S) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %mul = fuse.binary mul "j,ij->ij" (%B, %X) : (tensor<3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %div = fuse.binary div "ij,ij->ij" (%X, %X) {note = 1 : i64} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %pow = fuse.binary pow "ij,->ij" (%X, %S) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %max = fuse.binary max "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %min = fuse.binary min "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  // Broadcasting to a letter no operand has is allowed (an outer product).
  // CHECK-NEXT: %outer = fuse.binary mul "i,j->ij" (%B, %B) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3x3xf32>
  %add = fuse.binary add "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %sub = fuse.binary sub "ij,->ij" (%X, %S) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  %mul = fuse.binary mul "j,ij->ij" (%B, %X) : (tensor<3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %div = fuse.binary div "ij,ij->ij" (%X, %X) {note = 1 : i64} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %pow = fuse.binary pow "ij,->ij" (%X, %S) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  %max = fuse.binary max "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %min = fuse.binary min "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %outer = fuse.binary mul "i,j->ij" (%B, %B) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3x3xf32>

  // CHECK-NEXT: %sel = fuse.select "ij,ij,j->ij" (%add, %X, %B) : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  // CHECK-NEXT: %sel2 = fuse.select ",ij,ij->ij" (%S, %X, %X) {note = 2 : i64} : (tensor<f32>, tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %sel = fuse.select "ij,ij,j->ij" (%add, %X, %B) : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %sel2 = fuse.select ",ij,ij->ij" (%S, %X, %X) {note = 2 : i64} : (tensor<f32>, tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>

  // CHECK-NEXT: %relu = fuse.unary relu %X : tensor<4x3xf32>
  // CHECK-NEXT: %gelu = fuse.unary gelu %X : tensor<4x3xf32>
  // CHECK-NEXT: %sig = fuse.unary sig %X : tensor<4x3xf32>
  // CHECK-NEXT: %sigt = fuse.unary sig %X {temperature = 5.000000e-01 : f32} : tensor<4x3xf32>
  // CHECK-NEXT: %sigt2 = fuse.unary sig %X {note = 3 : i64, temperature = 0.000000e+00 : f32} : tensor<4x3xf32>
  // CHECK-NEXT: %step = fuse.unary step %X {note = 4 : i64} : tensor<4x3xf32>
  // CHECK-NEXT: %exp = fuse.unary exp %X : tensor<4x3xf32>
  // CHECK-NEXT: %log = fuse.unary log %X : tensor<4x3xf32>
  // CHECK-NEXT: %sqrt = fuse.unary sqrt %X : tensor<4x3xf32>
  // CHECK-NEXT: %abs = fuse.unary abs %X : tensor<4x3xf32>
  // CHECK-NEXT: %tanh = fuse.unary tanh %X : tensor<4x3xf32>
  // CHECK-NEXT: %sin = fuse.unary sin %X : tensor<4x3xf32>
  // CHECK-NEXT: %cos = fuse.unary cos %X : tensor<4x3xf32>
  // CHECK-NEXT: %neg = fuse.unary neg %S : tensor<f32>
  %relu = fuse.unary relu %X : tensor<4x3xf32>
  %gelu = fuse.unary gelu %X : tensor<4x3xf32>
  %sig = fuse.unary sig %X : tensor<4x3xf32>
  %sigt = fuse.unary sig %X {temperature = 0.5 : f32} : tensor<4x3xf32>
  %sigt2 = fuse.unary sig %X {temperature = 0.0 : f32, note = 3 : i64} : tensor<4x3xf32>
  %step = fuse.unary step %X {note = 4 : i64} : tensor<4x3xf32>
  %exp = fuse.unary exp %X : tensor<4x3xf32>
  %log = fuse.unary log %X : tensor<4x3xf32>
  %sqrt = fuse.unary sqrt %X : tensor<4x3xf32>
  %abs = fuse.unary abs %X : tensor<4x3xf32>
  %tanh = fuse.unary tanh %X : tensor<4x3xf32>
  %sin = fuse.unary sin %X : tensor<4x3xf32>
  %cos = fuse.unary cos %X : tensor<4x3xf32>
  %neg = fuse.unary neg %S : tensor<f32>
  func.return %sel : tensor<4x3xf32>
}

// GENERIC: "fuse.binary"(%X, %B) <{fn = "add", subscripts = "ij,j->ij"}> : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
// GENERIC: "fuse.select"(%add, %X, %B) <{subscripts = "ij,ij,j->ij"}> : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
// GENERIC: "fuse.unary"(%X) <{fn = "sig", temperature = 5.000000e-01 : f32}> : (tensor<4x3xf32>) -> tensor<4x3xf32>
// GENERIC: "fuse.unary"(%X) <{fn = "step"}> {note = 4 : i64} : (tensor<4x3xf32>) -> tensor<4x3xf32>
