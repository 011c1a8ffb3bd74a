// fuse.fixpoint in its naive and semi_naive forms (and fuse.yield with
// several values): pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @naive
// CHECK-NEXT:    %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<5x5xf32> {
// CHECK-NEXT:    ^bb0(%path: tensor<5x5xf32>):
// CHECK-NEXT:      %q = fuse.einsum "xy,yz->xz" sum (%path, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
// CHECK-NEXT:      %r = fuse.binary add "xz,xz->xz" (%q, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
// CHECK-NEXT:      %s = fuse.unary step %r : tensor<5x5xf32>
// CHECK-NEXT:      fuse.yield %s : tensor<5x5xf32>
// CHECK-NEXT:    }
func.func @naive(%E: tensor<5x5xf32>) -> tensor<5x5xf32> {
  %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<5x5xf32> {
  ^bb0(%path: tensor<5x5xf32>):
    %q = fuse.einsum "xy,yz->xz" sum (%path, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
    %r = fuse.binary add "xz,xz->xz" (%q, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
    %s = fuse.unary step %r : tensor<5x5xf32>
    fuse.yield %s : tensor<5x5xf32>
  }
  func.return %p : tensor<5x5xf32>
}

// Two mutually recursive tensors, limits and a reason for staying naive.
// CHECK-LABEL: func.func @naive_pair
// xDSL prints a multi-result op with one name per result.
// CHECK-NEXT:    %ab, %ab_1 = fuse.fixpoint naive {note = 1 : i64, tensors = ["A", "B"], max_iters = 50 : i64, tolerance = 1.000000e-06 : f32, naive_reason = "softmax is not monotone"} : tensor<3xf32>, tensor<3xf32> {
// CHECK-NEXT:    ^bb0(%a: tensor<3xf32>, %b: tensor<3xf32>):
// CHECK-NEXT:      fuse.yield %b, %a : tensor<3xf32>, tensor<3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %ab : tensor<3xf32>
func.func @naive_pair() -> tensor<3xf32> {
  %ab:2 = fuse.fixpoint naive {tensors = ["A", "B"], max_iters = 50 : i64, tolerance = 1.0e-06 : f32, naive_reason = "softmax is not monotone", note = 1 : i64} : tensor<3xf32>, tensor<3xf32> {
  ^bb0(%a: tensor<3xf32>, %b: tensor<3xf32>):
    fuse.yield %b, %a : tensor<3xf32>, tensor<3xf32>
  }
  func.return %ab#0 : tensor<3xf32>
}

// CHECK-LABEL: func.func @semi_naive
// CHECK-NEXT:    %p = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<5x5xf32> init {
// CHECK-NEXT:      fuse.yield %E : tensor<5x5xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%path: tensor<5x5xf32>, %dpath: tensor<5x5xf32>):
// CHECK-NEXT:      %q = fuse.einsum "xy,yz->xz" sum (%dpath, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
// CHECK-NEXT:      %r = fuse.binary add "xz,xz->xz" (%q, %path) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
// CHECK-NEXT:      %s = fuse.unary step %r : tensor<5x5xf32>
// CHECK-NEXT:      fuse.yield %s : tensor<5x5xf32>
// CHECK-NEXT:    }
func.func @semi_naive(%E: tensor<5x5xf32>) -> tensor<5x5xf32> {
  %p = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<5x5xf32> init {
    fuse.yield %E : tensor<5x5xf32>
  } {
  ^bb0(%path: tensor<5x5xf32>, %dpath: tensor<5x5xf32>):
    %q = fuse.einsum "xy,yz->xz" sum (%dpath, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
    %r = fuse.binary add "xz,xz->xz" (%q, %path) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
    %s = fuse.unary step %r : tensor<5x5xf32>
    fuse.yield %s : tensor<5x5xf32>
  }
  func.return %p : tensor<5x5xf32>
}

// CHECK-LABEL: func.func @semi_naive_pair
// CHECK-NEXT:    %xy, %xy_1 = fuse.fixpoint semi_naive {tensors = ["X", "Y"], deltas = ["difference", "changed"], max_iters = 7 : i64} : tensor<?xf32>, tensor<?xf32> init {
// CHECK-NEXT:      fuse.yield %V, %V : tensor<?xf32>, tensor<?xf32>
// CHECK-NEXT:    } {
// CHECK-NEXT:    ^bb0(%x: tensor<?xf32>, %y: tensor<?xf32>, %dx: tensor<?xf32>, %dy: tensor<?xf32>):
// CHECK-NEXT:      fuse.yield %dy, %dx : tensor<?xf32>, tensor<?xf32>
func.func @semi_naive_pair(%V: tensor<?xf32>) -> tensor<?xf32> {
  %xy:2 = fuse.fixpoint semi_naive {tensors = ["X", "Y"], deltas = ["difference", "changed"], max_iters = 7 : i64} : tensor<?xf32>, tensor<?xf32> init {
    fuse.yield %V, %V : tensor<?xf32>, tensor<?xf32>
  } {
  ^bb0(%x: tensor<?xf32>, %y: tensor<?xf32>, %dx: tensor<?xf32>, %dy: tensor<?xf32>):
    fuse.yield %dy, %dx : tensor<?xf32>, tensor<?xf32>
  }
  func.return %xy#1 : tensor<?xf32>
}

// GENERIC: "fuse.fixpoint"() <{strategy = "naive", tensors = ["Path"]}> ({
// GENERIC: "fuse.yield"(%s) : (tensor<5x5xf32>) -> ()
// GENERIC: }) : () -> tensor<5x5xf32>
// GENERIC: "fuse.fixpoint"() <{strategy = "semi_naive", tensors = ["Path"], deltas = ["changed"]}> ({
// GENERIC: }, {
// GENERIC-NEXT: "fuse.yield"(%E) : (tensor<5x5xf32>) -> ()
