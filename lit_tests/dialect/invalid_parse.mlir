// Errors that the custom syntax of fuse ops reports while parsing.
// RUN: fuse-opt %s --split-input-file --parsing-diagnostics | filecheck %s

fuse.program {
  fuse.tensor @A[i] : f32
}

// CHECK: fuse.tensor expects a tensor type, got f32

// -----

fuse.program {
  fuse.tensor @A[i, j] : tensor<?x?xf32>
  fuse.sink "out.npy" {
    %a = fuse.load @A[i, j] : !fuse.expr<j, i>
    fuse.yield %a : !fuse.expr<j, i>
  }
}

// The location is that of the whole file, not of the chunk.
// CHECK: invalid_parse.mlir:16:5
// CHECK: fuse.load of @A['i', 'j'] varies over ['i', 'j'], but its type says !fuse.expr<j, i>

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal 1.0 : f32 -> !fuse.expr<>
    %b = fuse.call relu(%a) : (!fuse.expr<>) -> f32
    fuse.yield %a : !fuse.expr<>
  }
}

// CHECK: fuse.call returns one !fuse.expr

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal 1.0 : f32 -> !fuse.expr<>
    %b = fuse.call relu(%a) [1] : (!fuse.expr<>) -> !fuse.expr<>
    fuse.yield %a : !fuse.expr<>
  }
}

// CHECK: expected a dictionary of keyword arguments

// -----

func.func @f() {
  %0 = fuse.constant 1.0 : f32
  func.return
}

// CHECK: expected a dense elements attribute, got 1.000000e+00 : f32

// -----

func.func @f(%X: tensor<4xf32>) {
  %0 = fuse.select "i,i->i" (%X, %X) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// CHECK: Expected ','


// -----

func.func @f() {
  %0 = fuse.unary frob : tensor<4xf32>
  func.return
}

// CHECK: operand expected

// -----

func.func @f(%A: tensor<4xf32>) {
  %0 = fuse.einsum "i->i" (%A) : (tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// CHECK: expected a bare word for 'kind'
