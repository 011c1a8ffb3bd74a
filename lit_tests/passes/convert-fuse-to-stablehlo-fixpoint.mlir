// RUN: fuse-opt %s -p 'convert-fuse-to-stablehlo{max_iters=50}' | filecheck %s
// Fixpoints become stablehlo.while loops carrying (iterations, converged,
// change, values..., [deltas...,] captured values...); each adds a trailing
// status result [converged, iterations, last change] named by
// fuse.fixpoint_status.

// CHECK-LABEL: func.func @naive(%E: tensor<4x4xf32> {fuse.name = "Edge"}) -> (tensor<4x4xf32> {fuse.name = "Path"}, tensor<3xf32> {fuse.fixpoint_status = ["Path"]})
// CHECK-DAG:     %[[ZERO:.*]] = stablehlo.broadcast_in_dim %{{.*}}, dims = [] : (tensor<f32>) -> tensor<4x4xf32>
// CHECK-DAG:     %[[FALSE:.*]] = stablehlo.constant dense<false> : tensor<i1>
// CHECK-DAG:     %[[N0:.*]] = stablehlo.constant dense<0> : tensor<i32>
// CHECK:         %[[N:.*]], %[[DONE:.*]], %[[CHANGE:.*]], %[[PATH:.*]], %{{.*}} = stablehlo.while(%[[IT:.*]] = %[[N0]], %{{.*}} = %[[FALSE]], %{{.*}} = %{{.*}}, %[[CUR:.*]] = %[[ZERO]], %[[EDGE:.*]] = %E) : tensor<i32>, tensor<i1>, tensor<f32>, tensor<4x4xf32>, tensor<4x4xf32>
// CHECK-NEXT:    cond {
// CHECK:           stablehlo.constant dense<50> : tensor<i32>
// CHECK:           stablehlo.compare LT
// CHECK:           %[[GO:.*]] = stablehlo.and
// CHECK-NEXT:      stablehlo.return %[[GO]] : tensor<i1>
// CHECK-NEXT:    } do {
// CHECK-NEXT:      stablehlo.dot_general %[[EDGE]], %[[CUR]], contracting_dims = [1] x [0]
// CHECK:           %[[NEXT:.*]] = stablehlo.optimization_barrier
// CHECK-NEXT:      stablehlo.subtract %[[NEXT]], %[[CUR]]
// CHECK-NEXT:      stablehlo.abs
// CHECK:           stablehlo.reduce
// CHECK:           stablehlo.maximum
// CHECK:           stablehlo.compare LE
// CHECK-NEXT:      stablehlo.constant dense<1> : tensor<i32>
// CHECK-NEXT:      stablehlo.add %[[IT]]
// CHECK-NEXT:      stablehlo.return
// CHECK-NEXT:    }
// CHECK:         stablehlo.select %[[DONE]]
// CHECK:         stablehlo.convert %[[N]] : (tensor<i32>) -> tensor<f32>
// CHECK:         stablehlo.reshape %[[CHANGE]] : (tensor<f32>) -> tensor<1xf32>
// CHECK-NEXT:    %[[STATUS:.*]] = stablehlo.concatenate {{.*}} dim = 0 : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<3xf32>
// CHECK-NEXT:    func.return %[[PATH]], %[[STATUS]] : tensor<4x4xf32>, tensor<3xf32>
func.func @naive(%E: tensor<4x4xf32> {fuse.name = "Edge"}) -> (tensor<4x4xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint naive {tensors = ["Path"], tolerance = 0.0 : f32} : tensor<4x4xf32> {
  ^bb0(%path: tensor<4x4xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%E, %path) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %s = fuse.binary add "xz,xz->xz" (%E, %j) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %r = fuse.unary step %s : tensor<4x4xf32>
    fuse.yield %r : tensor<4x4xf32>
  }
  func.return %p : tensor<4x4xf32>
}

// Semi-naive: init runs before the loop, its deltas against zeros decide
// whether the loop runs at all; the body gets values and deltas. Values are
// materialized before their deltas are taken, so a delta compares the value
// the loop carries, not a recomputation that XLA may round differently.
// CHECK-LABEL: func.func @semi_naive(%E: tensor<4x4xf32>) -> (tensor<4x4xf32> {fuse.sink = "out.npy", fuse.dims = ["x", "y"]}, tensor<3xf32> {fuse.fixpoint_status = ["Path"]})
// CHECK:         %[[STEP:.*]] = stablehlo.select
// CHECK-NEXT:    %[[INIT:.*]] = stablehlo.optimization_barrier %[[STEP]] : tensor<4x4xf32>
// CHECK:         %[[NEW:.*]] = stablehlo.compare NE, %[[INIT]], %[[Z:.*]] :
// CHECK-NEXT:    %[[D0:.*]] = stablehlo.select %[[NEW]], %[[INIT]], %[[Z]]
// CHECK:         %[[C0:.*]] = stablehlo.compare LE
// CHECK:         stablehlo.while(%{{.*}} = %{{.*}}, %{{.*}} = %[[C0]], %{{.*}} = %{{.*}}, %[[CUR:.*]] = %[[INIT]], %[[DELTA:.*]] = %[[D0]], %[[EDGE:.*]] = %E)
// CHECK:         } do {
// CHECK-NEXT:      stablehlo.dot_general %[[DELTA]], %[[EDGE]], contracting_dims = [1] x [0]
// CHECK-NEXT:      stablehlo.add %{{.*}}, %[[CUR]]
// CHECK:           %[[NEXT:.*]] = stablehlo.optimization_barrier
// CHECK:           stablehlo.compare NE, %[[NEXT]], %[[CUR]]
// CHECK:           stablehlo.return
func.func @semi_naive(%E: tensor<4x4xf32>) -> (tensor<4x4xf32> {fuse.sink = "out.npy", fuse.dims = ["x", "y"]}) {
  %p = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<4x4xf32> init {
    %s = fuse.unary step %E : tensor<4x4xf32>
    fuse.yield %s : tensor<4x4xf32>
  } {
  ^bb0(%path: tensor<4x4xf32>, %dpath: tensor<4x4xf32>):
    %q = fuse.einsum "xy,yz->xz" sum (%dpath, %E) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %r = fuse.binary add "xz,xz->xz" (%q, %path) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %s = fuse.unary step %r : tensor<4x4xf32>
    fuse.yield %s : tensor<4x4xf32>
  }
  func.return %p : tensor<4x4xf32>
}
