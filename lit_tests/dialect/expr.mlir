// Rule-body expressions: fuse.literal, fuse.arith, fuse.negate, fuse.project
// and fuse.call. Pretty and generic round trips.
// RUN: fuse-opt %s | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | fuse-opt | filecheck %s
// RUN: fuse-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

fuse.program {
  fuse.tensor @X[p, t] input : tensor<?x?xf32>
  fuse.tensor @Y[p, t] : tensor<?x?xf32>
  fuse.rule @Y[p, t] sum {
    %x = fuse.load @X[p, t] : !fuse.expr<p, t>

    // CHECK:      %two = fuse.literal 2.000000e+00 : f32 -> !fuse.expr<>
    // CHECK-NEXT: %vec = fuse.literal dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32> -> !fuse.expr<t>
    // CHECK-NEXT: %mat = fuse.literal dense<{{\[\[}}1.000000e+00, 0.000000e+00], [0.000000e+00, 1.000000e+00]]> : tensor<2x2xf32> {note = 1 : i64} -> !fuse.expr<p, t>
    %two = fuse.literal 2.0 : f32 -> !fuse.expr<>
    %vec = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<t>
    %mat = fuse.literal dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32> {note = 1 : i64} -> !fuse.expr<p, t>

    // CHECK-NEXT: %add = fuse.arith add %x, %two : !fuse.expr<p, t>, !fuse.expr<>
    // CHECK-NEXT: %sub = fuse.arith sub %two, %x : !fuse.expr<>, !fuse.expr<p, t>
    // CHECK-NEXT: %mul = fuse.arith mul %vec, %x : !fuse.expr<t>, !fuse.expr<p, t>
    // CHECK-NEXT: %div = fuse.arith div %x, %vec {note = "d"} : !fuse.expr<p, t>, !fuse.expr<t>
    // CHECK-NEXT: %pow = fuse.arith pow %x, %two : !fuse.expr<p, t>, !fuse.expr<>
    // CHECK-NEXT: %max = fuse.arith max %x, %mat : !fuse.expr<p, t>, !fuse.expr<p, t>
    %add = fuse.arith add %x, %two : !fuse.expr<p, t>, !fuse.expr<>
    %sub = fuse.arith sub %two, %x : !fuse.expr<>, !fuse.expr<p, t>
    %mul = fuse.arith mul %vec, %x : !fuse.expr<t>, !fuse.expr<p, t>
    %div = fuse.arith div %x, %vec {note = "d"} : !fuse.expr<p, t>, !fuse.expr<t>
    %pow = fuse.arith pow %x, %two : !fuse.expr<p, t>, !fuse.expr<>
    %max = fuse.arith max %x, %mat : !fuse.expr<p, t>, !fuse.expr<p, t>

    // CHECK-NEXT: %neg = fuse.negate %max : !fuse.expr<p, t>
    // CHECK-NEXT: %neg2 = fuse.negate %two {note = 2 : i64} : !fuse.expr<>
    %neg = fuse.negate %max : !fuse.expr<p, t>
    %neg2 = fuse.negate %two {note = 2 : i64} : !fuse.expr<>

    // CHECK-NEXT: %s = fuse.project sum [t] %neg : !fuse.expr<p, t>
    // CHECK-NEXT: %m = fuse.project max [p, t] %x : !fuse.expr<p, t>
    // CHECK-NEXT: %a = fuse.project mean [] %x {note = 3 : i64} : !fuse.expr<p, t>
    %s = fuse.project sum [t] %neg : !fuse.expr<p, t>
    %m = fuse.project max [p, t] %x : !fuse.expr<p, t>
    %a = fuse.project mean [] %x {note = 3 : i64} : !fuse.expr<p, t>

    // CHECK-NEXT: %relu = fuse.call relu(%x) : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    // CHECK-NEXT: %sig = fuse.call sig(%x) {T = 5.000000e-01 : f32} : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    // CHECK-NEXT: %soft = fuse.call softmax(%x) {axis = "t"} : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    // CHECK-NEXT: %msoft = fuse.call masked_softmax(%x, %mat) {axis = "t"} : (!fuse.expr<p, t>, !fuse.expr<p, t>) -> !fuse.expr<p, t>
    // CHECK-NEXT: %mask = fuse.call causal_mask[p, t]() : () -> !fuse.expr<p, t>
    // CHECK-NEXT: %even = fuse.call even[t]() : () -> !fuse.expr<t>
    // CHECK-NEXT: %cat = fuse.call concat(%x, %x, %x) {axis = "t"} : (!fuse.expr<p, t>, !fuse.expr<p, t>, !fuse.expr<p, t>) -> !fuse.expr<p, t>
    %relu = fuse.call relu(%x) : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    %sig = fuse.call sig(%x) {T = 0.5 : f32} : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    %soft = fuse.call softmax(%x) {axis = "t"} : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    %msoft = fuse.call masked_softmax(%x, %mat) {axis = "t"} : (!fuse.expr<p, t>, !fuse.expr<p, t>) -> !fuse.expr<p, t>
    %mask = fuse.call causal_mask[p, t]() : () -> !fuse.expr<p, t>
    %even = fuse.call even[t]() : () -> !fuse.expr<t>
    %cat = fuse.call concat(%x, %x, %x) {axis = "t"} : (!fuse.expr<p, t>, !fuse.expr<p, t>, !fuse.expr<p, t>) -> !fuse.expr<p, t>
    fuse.yield %add : !fuse.expr<p, t>
  }
}

// GENERIC: "fuse.literal"() <{value = 2.000000e+00 : f32}> : () -> !fuse.expr<>
// GENERIC: "fuse.arith"(%x, %two) <{fn = "add"}> : (!fuse.expr<p, t>, !fuse.expr<>) -> !fuse.expr<p, t>
// GENERIC: "fuse.negate"(%max) : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
// GENERIC: "fuse.project"(%neg) <{kind = "sum", axes = #fuse.indices<t>}> : (!fuse.expr<p, t>) -> !fuse.expr<p>
// GENERIC: "fuse.call"(%x) <{callee = "sig", keywords = {T = 5.000000e-01 : f32}}> : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
// GENERIC: "fuse.call"() <{callee = "causal_mask", index_args = #fuse.indices<p, t>}> : () -> !fuse.expr<p, t>
