// Verifier errors of fuse.conv and fuse.pool, one per chunk.
// RUN: fuse-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

func.func @main(%x: tensor<8xf32>, %k: tensor<3xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0;0->0" strides [1] dilations [1] : (tensor<8xf32>, tensor<3xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv layout '0;0->0' must read '<input>,<filter>-><output>' (e.g. 'b01f,01io->b01f')

// -----

func.func @main(%x: tensor<8x2xf32>, %k: tensor<3x2xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0f,0o->0" strides [1] dilations [1] : (tensor<8x2xf32>, tensor<3x2xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv layout '0f,0o->0' is inconsistent: the input has 'f' iff the filter has 'i'

// -----

func.func @main(%x: tensor<8x8xf32>, %k: tensor<3x3xf32>) -> tensor<6x6xf32> {
  %y = fuse.conv %x, %k "01,02->01" strides [1, 1] dilations [1, 1] : (tensor<8x8xf32>, tensor<3x3xf32>) -> tensor<6x6xf32>
  func.return %y : tensor<6x6xf32>
}

// CHECK: fuse.conv layout '01,02->01': '02' must hold the spatial dimensions 0, 1 once each and optionally g, i and o, nothing else

// -----

func.func @main(%x: tensor<8xf32>, %k: tensor<3xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0,0->0" strides [1, 1] dilations [1] : (tensor<8xf32>, tensor<3xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv has 2 strides, but needs one per dimension (1)

// -----

func.func @main(%x: tensor<8xf32>, %k: tensor<3xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0,0->0" strides [0] dilations [1] : (tensor<8xf32>, tensor<3xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv strides must be at least 1, got [0]

// -----

func.func @main(%x: tensor<8xf32>, %k: tensor<3xf32>) -> tensor<7xf32> {
  %y = fuse.conv %x, %k "0,0->0" strides [1] dilations [1] : (tensor<8xf32>, tensor<3xf32>) -> tensor<7xf32>
  func.return %y : tensor<7xf32>
}

// CHECK: fuse.conv spatial dimension 0: result size 7, but a valid convolution of 8 by 3 (stride 1, dilation 1) has 6

// -----

func.func @main(%x: tensor<4xf32>, %k: tensor<3xf32>) -> tensor<1xf32> {
  %y = fuse.conv %x, %k "0,0->0" strides [1] dilations [2] : (tensor<4xf32>, tensor<3xf32>) -> tensor<1xf32>
  func.return %y : tensor<1xf32>
}

// CHECK: fuse.conv spatial dimension 0: the window spans 5 positions, more than the input's 4

// -----

func.func @main(%x: tensor<8x2xf32>, %k: tensor<3x3x4xf32>) -> tensor<6x4xf32> {
  %y = fuse.conv %x, %k "0f,0io->0f" strides [1] dilations [1] : (tensor<8x2xf32>, tensor<3x3x4xf32>) -> tensor<6x4xf32>
  func.return %y : tensor<6x4xf32>
}

// CHECK: fuse.conv input features differ: input 'f' has size 2, but filter 'i' has 3

// -----

func.func @main(%x: tensor<8x2xf32>, %k: tensor<3x2xf32>) -> tensor<6x1xf32> {
  %y = fuse.conv %x, %k "0f,0i->0" strides [1] dilations [1] : (tensor<8x2xf32>, tensor<3x2xf32>) -> tensor<6x1xf32>
  func.return %y : tensor<6x1xf32>
}

// CHECK: fuse.conv result has rank 2, but the layout '0' names 1 dimensions

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %y = fuse.pool min %x window [2] strides [2] : tensor<8xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK: Expected `sum`, `max`, or `mean`.

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %y = fuse.pool max %x window [2, 1] strides [2] : tensor<8xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK: fuse.pool has 2 window sizes, but needs one per dimension (1)

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %y = fuse.pool max %x window [9] strides [2] : tensor<8xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK: fuse.pool dimension 0: window 9 is larger than the operand's 8

// -----

func.func @main(%x: tensor<7xf32>) -> tensor<3xf32> {
  %y = fuse.pool max %x window [2] strides [2] : tensor<7xf32> -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// CHECK: fuse.pool dimension 0: result size 3, but windows of 2 every 2 over 7 elements give 4

// -----

func.func @main(%x: tensor<7x2xf32>) -> tensor<4xf32> {
  %y = fuse.pool max %x window [2, 1] strides [2, 1] : tensor<7x2xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK: fuse.pool result has rank 1, but the operand has rank 2

// -----

func.func @main(%x: tensor<8x2xf32>, %k: tensor<3x2xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0g,0g->0" strides [1] dilations [1] : (tensor<8x2xf32>, tensor<3x2xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv layout '0g,0g->0' is inconsistent: all three operands have 'g' or none

// -----

func.func @main(%x: tensor<8x2xf32>, %k: tensor<3x3xf32>) -> tensor<6x2xf32> {
  %y = fuse.conv %x, %k "0g,0g->0g" strides [1] dilations [1] : (tensor<8x2xf32>, tensor<3x3xf32>) -> tensor<6x2xf32>
  func.return %y : tensor<6x2xf32>
}

// CHECK: fuse.conv groups differ: input 'g' has size 2, but filter 'g' has 3

// -----

func.func @main(%x: tensor<?xf32>, %k: tensor<3xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0,0->0" strides [1] dilations [1] : (tensor<?xf32>, tensor<3xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv input must be a tensor of static shape, got tensor<?xf32>

// -----

func.func @main(%x: tensor<2xf32>, %k: tensor<2xf32>) -> tensor<f32> {
  %y = fuse.conv %x, %k "f,i->" strides [] dilations [] : (tensor<2xf32>, tensor<2xf32>) -> tensor<f32>
  func.return %y : tensor<f32>
}

// CHECK: fuse.conv layout 'f,i->' has no spatial dimension

// -----

func.func @main(%x: tensor<2x8xf32>, %k: tensor<3xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "b0,0->0" strides [1] dilations [1] : (tensor<2x8xf32>, tensor<3xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv layout 'b0,0->0' is inconsistent: the input has 'b' iff the output has

// -----

func.func @main(%x: tensor<8xf32>, %k: tensor<3xf32>) -> tensor<6xf32> {
  %y = fuse.conv %x, %k "0,0->0" strides [1] dilations [0] : (tensor<8xf32>, tensor<3xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}

// CHECK: fuse.conv dilations must be at least 1, got [0]

// -----

func.func @main(%x: tensor<2x8xf32>, %k: tensor<3xf32>) -> tensor<3x6xf32> {
  %y = fuse.conv %x, %k "b0,0->b0" strides [1] dilations [1] : (tensor<2x8xf32>, tensor<3xf32>) -> tensor<3x6xf32>
  func.return %y : tensor<3x6xf32>
}

// CHECK: fuse.conv batch sizes differ: input 'b' has size 2, but result 'b' has 3

// -----

func.func @main(%x: tensor<8xf32>, %k: tensor<3x4xf32>) -> tensor<6x5xf32> {
  %y = fuse.conv %x, %k "0,0o->0f" strides [1] dilations [1] : (tensor<8xf32>, tensor<3x4xf32>) -> tensor<6x5xf32>
  func.return %y : tensor<6x5xf32>
}

// CHECK: fuse.conv output features differ: filter 'o' has size 4, but result 'f' has 5

// -----

func.func @main(%x: tensor<?xf32>) -> tensor<4xf32> {
  %y = fuse.pool max %x window [2] strides [2] : tensor<?xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK: fuse.pool operand must be a tensor of static shape, got tensor<?xf32>

// -----

func.func @main(%x: tensor<8xf32>) -> tensor<4xf32> {
  %y = fuse.pool max %x window [2] strides [0] : tensor<8xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK: fuse.pool strides must be at least 1, got [0]
