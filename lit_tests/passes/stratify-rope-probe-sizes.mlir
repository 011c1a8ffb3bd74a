// RUN: fuse-opt %s --split-input-file -p fuse-canonicalize-projections,fuse-infer-shapes,fuse-stratify | filecheck %s

// `Y[p, d] = rope(X[p, d])` at known sizes: rope's tables (cos, sin and
// the pair rotation) are constants, computed in float64 at compile time.

builtin.module {
  fuse.program {
    fuse.tensor @Y[p, d] : tensor<?x?xf32>
    fuse.tensor @X[p, d] input : tensor<3x4xf32>
    fuse.rule @Y[p, d] sum {
      %0 = fuse.load @X[p, d] : !fuse.expr<p, d>
      %1 = fuse.call rope(%0) : (!fuse.expr<p, d>) -> !fuse.expr<p, d>
      fuse.yield %1 : !fuse.expr<p, d>
    }
    fuse.export @Y
  }
}

// CHECK-LABEL: func.func @main
// CHECK-NOT:     fuse.index_fn
// CHECK:         fuse.constant dense<{{.*}}> : tensor<3x4xf32>
// CHECK-NEXT:    fuse.constant dense<{{.*}}> : tensor<3x4xf32>
// CHECK-NEXT:    fuse.constant dense<{{\[\[}}0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00], [-1.000000e+00, {{.*}}> : tensor<4x4xf32>
// CHECK-NOT:     fuse.unary

// -----

// The same program at probe sizes (`fuse.probe_sizes`, which runtime export
// sets when sizes are symbolic): the tables are computed from index
// functions, so their shapes follow the sizes, and the exponent divides by
// the feature size (4.0), which the symbolic lowerings read as that size.

builtin.module {
  fuse.program attributes {fuse.probe_sizes} {
    fuse.tensor @Y[p, d] : tensor<?x?xf32>
    fuse.tensor @X[p, d] input : tensor<3x4xf32>
    fuse.rule @Y[p, d] sum {
      %0 = fuse.load @X[p, d] : !fuse.expr<p, d>
      %1 = fuse.call rope(%0) : (!fuse.expr<p, d>) -> !fuse.expr<p, d>
      fuse.yield %1 : !fuse.expr<p, d>
    }
    fuse.export @Y
  }
}

// CHECK-LABEL: func.func @main
// CHECK-NOT:     fuse.constant dense<{{.*}}> : tensor<3x4xf32>
// CHECK:         %[[IOTA:.*]] = fuse.index_fn iota : tensor<4xf32>
// CHECK-NEXT:    %[[ODD:.*]] = fuse.index_fn odd : tensor<4xf32>
// CHECK-NEXT:    %[[START:.*]] = fuse.binary sub "a,a->a" (%[[IOTA]], %[[ODD]])
// CHECK-NEXT:    %[[SIZE:.*]] = fuse.constant dense<4.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[RATIO:.*]] = fuse.binary div "a,->a" (%[[START]], %[[SIZE]])
// CHECK-NEXT:    %[[EXPONENT:.*]] = fuse.unary neg %[[RATIO]]
// CHECK-NEXT:    %[[BASE:.*]] = fuse.constant dense<1.000000e+04> : tensor<f32>
// CHECK-NEXT:    %[[FREQUENCY:.*]] = fuse.binary pow ",a->a" (%[[BASE]], %[[EXPONENT]])
// CHECK-NEXT:    %[[POSITION:.*]] = fuse.index_fn iota : tensor<3xf32>
// CHECK-NEXT:    %[[ANGLE:.*]] = fuse.binary mul "b,a->ba" (%[[POSITION]], %[[FREQUENCY]])
// The rotation: |start(d') - start(d)| < 1 where d' and d are one pair, times even(d') - even(d).
// CHECK-NEXT:    %[[DISTANCE:.*]] = fuse.binary sub "c,a->ca" (%[[START]], %[[START]])
// CHECK:         %[[EVEN:.*]] = fuse.index_fn even : tensor<4xf32>
// CHECK-NEXT:    %[[TURN:.*]] = fuse.binary sub "c,a->ca" (%[[EVEN]], %[[EVEN]])
// CHECK-NEXT:    fuse.unary cos %[[ANGLE]]
// CHECK-NEXT:    fuse.unary sin %[[ANGLE]]
