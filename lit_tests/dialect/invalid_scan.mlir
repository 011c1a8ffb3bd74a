// Verifier errors of fuse.scan, one per chunk.
// RUN: fuse-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

func.func @main(%x0: tensor<4xf32>) -> tensor<1x4xf32> {
  %h = fuse.scan steps 0 axis 0 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) -> tensor<1x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<1x4xf32>
}

// CHECK: fuse.scan needs at least one step, got 0

// -----

func.func @main(%x0: tensor<4xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [] tensors ["X", "Y"] (%x0 : tensor<4xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan names 2 tensors but carries 1 states

// -----

func.func @main(%x0: tensor<4xf32>, %u: tensor<4x3xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) over (%u : tensor<4x3xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>, %s: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan has 1 scanned inputs but 0 in_axes

// -----

func.func @main(%x0: tensor<4xf32>, %u: tensor<4x3xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [2] tensors ["X"] (%x0 : tensor<4xf32>) over (%u : tensor<4x3xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>, %s: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan scanned input 0 has rank 2, so in_axes 2 is out of range

// -----

func.func @main(%x0: tensor<4xf32>, %u: tensor<4x3xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [0] tensors ["X"] (%x0 : tensor<4xf32>) over (%u : tensor<4x3xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>, %s: tensor<3xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan scanned input 0 has 4 values along axis 0, but the scan takes 3 steps

// -----

func.func @main(%x0: tensor<4xf32>, %u: tensor<4x3xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [1] tensors ["X"] (%x0 : tensor<4xf32>) over (%u : tensor<4x3xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan body takes the states then one slice per scanned input (tensor<4xf32>, tensor<4xf32>), got (tensor<4xf32>)

// -----

func.func @main(%x0: tensor<4xf32>, %y0: tensor<2xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %y0 : tensor<2xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan body must yield the next value of each state, of the state's type

// -----

func.func @main(%x0: tensor<4xf32>) -> tensor<4xf32> {
  %h = fuse.scan virtual steps 3 axis 0 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4xf32>
}

// CHECK: a virtual fuse.scan keeps no steps, so it has no axis

// -----

func.func @main(%x0: tensor<4xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: a stored fuse.scan needs the axis to stack its states on

// -----

func.func @main(%x0: tensor<4xf32>) -> tensor<4x4xf32> {
  %h = fuse.scan steps 3 axis 2 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) -> tensor<4x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<4x4xf32>
}

// CHECK: fuse.scan axis 2 is out of range for states of rank 1

// -----

func.func @main(%x0: tensor<4xf32>) -> tensor<3x4xf32> {
  %h = fuse.scan steps 3 axis 0 in_axes [] tensors ["X"] (%x0 : tensor<4xf32>) -> tensor<3x4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return %h : tensor<3x4xf32>
}

// CHECK: fuse.scan results must be the states stacked along 0 (tensor<4x4xf32>), got (tensor<3x4xf32>)
