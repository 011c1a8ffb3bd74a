// Verifier errors of fuse.fixpoint, one per chunk.
// RUN: fuse-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint magic {tensors = ["P"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: unknown fixpoint strategy 'magic', expected one of naive, semi_naive

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P", "Q"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: fuse.fixpoint names 2 tensors but has 1 results

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>, %dx: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a naive fuse.fixpoint body takes 1 arguments of the result types (tensor<4xf32>), got (tensor<4xf32>, tensor<4xf32>)

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<4xf32> {
  ^bb0(%x: tensor<3xf32>):
    fuse.yield %E : tensor<4xf32>
  }
  func.return
}

// CHECK: a naive fuse.fixpoint body takes 1 arguments of the result types (tensor<4xf32>), got (tensor<3xf32>)

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint semi_naive {tensors = ["P"], deltas = ["changed"]} : tensor<4xf32> init {
    fuse.yield %E : tensor<4xf32>
  } {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a semi_naive fuse.fixpoint body takes 2 arguments of the result types (tensor<4xf32>, tensor<4xf32>), got (tensor<4xf32>)

// -----

func.func @f(%E: tensor<4xf32>, %F: tensor<2xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %F : tensor<2xf32>
  }
  func.return
}

// CHECK: fuse.fixpoint regions must yield one value per result

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x, %x : tensor<4xf32>, tensor<4xf32>
  }
  func.return
}

// CHECK: fuse.fixpoint regions must yield one value per result

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint semi_naive {tensors = ["P"], deltas = ["changed"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>, %dx: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a semi_naive fuse.fixpoint needs an init region without arguments

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint semi_naive {tensors = ["P"], deltas = ["changed"]} : tensor<4xf32> init {
  ^bb0(%y: tensor<4xf32>):
    fuse.yield %E : tensor<4xf32>
  } {
  ^bb0(%x: tensor<4xf32>, %dx: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a semi_naive fuse.fixpoint needs an init region without arguments

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint semi_naive {tensors = ["P"]} : tensor<4xf32> init {
    fuse.yield %E : tensor<4xf32>
  } {
  ^bb0(%x: tensor<4xf32>, %dx: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a semi_naive fuse.fixpoint needs one delta kind per result

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint semi_naive {tensors = ["P"], deltas = ["sometimes"]} : tensor<4xf32> init {
    fuse.yield %E : tensor<4xf32>
  } {
  ^bb0(%x: tensor<4xf32>, %dx: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: unknown delta kind 'sometimes', expected one of difference, changed

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P"], deltas = ["changed"]} : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a naive fuse.fixpoint has no init region and no deltas

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<4xf32> init {
    fuse.yield %E : tensor<4xf32>
  } {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: a naive fuse.fixpoint has no init region and no deltas

// -----

func.func @f(%E: tensor<4xf32>) {
  %p = fuse.fixpoint naive : tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    fuse.yield %x : tensor<4xf32>
  }
  func.return
}

// CHECK: property 'tensors' expected in operation 'fuse.fixpoint'
