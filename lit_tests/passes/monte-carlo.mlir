// RUN: fuse-opt %s -p 'fuse-monte-carlo{samples=64 seed=1}' | filecheck %s

// A matvec over 1000 positions: the proposal (squared slice norms of both
// operands, their product, sqrt, normalized and mixed half and half with
// uniform), 64 draws, every operand gathered at the draws, and the weights
// 1/(S q) as one more operand of the einsum over the sample letter.
// CHECK-LABEL: func.func @matvec
// CHECK-NEXT:    %[[AA:.*]] = fuse.einsum "ij,ij->j" sum (%A, %A) : (tensor<8x1000xf32>, tensor<8x1000xf32>) -> tensor<1000xf32>
// CHECK-NEXT:    %[[XX:.*]] = fuse.einsum "j,j->j" sum (%x, %x) : (tensor<1000xf32>, tensor<1000xf32>) -> tensor<1000xf32>
// CHECK-NEXT:    %[[P2:.*]] = fuse.einsum "j,j->j" sum (%[[AA]], %[[XX]])
// CHECK-NEXT:    %[[P:.*]] = fuse.unary sqrt %[[P2]] : tensor<1000xf32>
// CHECK-NEXT:    %[[TWO:.*]] = fuse.constant dense<2.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[T:.*]] = fuse.einsum "j,->" sum (%[[P]], %[[TWO]])
// CHECK-NEXT:    %[[ONE:.*]] = fuse.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[SAFE:.*]] = fuse.select ",,->" (%[[T]], %[[T]], %[[ONE]])
// CHECK-NEXT:    %[[SHARE:.*]] = fuse.binary div "j,->j" (%[[P]], %[[SAFE]])
// CHECK-NEXT:    %[[U:.*]] = fuse.constant dense<5.000000e-04> : tensor<f32>
// CHECK-NEXT:    %[[Q:.*]] = fuse.binary add "j,->j" (%[[SHARE]], %[[U]])
// CHECK-NEXT:    %[[IDX:.*]] = fuse.sample %[[Q]] samples 64 seed {{[0-9]+}} : tensor<1000xf32> -> tensor<64xi32>
// CHECK-NEXT:    %[[GA:.*]] = fuse.gather %A dim 1 (%[[IDX]]) : (tensor<8x1000xf32>, tensor<64xi32>) -> tensor<8x64xf32>
// CHECK-NEXT:    %[[GX:.*]] = fuse.gather %x dim 0 (%[[IDX]]) : (tensor<1000xf32>, tensor<64xi32>) -> tensor<64xf32>
// CHECK-NEXT:    %[[QS:.*]] = fuse.gather %[[Q]] dim 0 (%[[IDX]]) : (tensor<1000xf32>, tensor<64xi32>) -> tensor<64xf32>
// CHECK-NEXT:    %[[INV:.*]] = fuse.constant dense<1.562500e-02> : tensor<f32>
// CHECK-NEXT:    %[[W:.*]] = fuse.binary div ",a->a" (%[[INV]], %[[QS]]) : (tensor<f32>, tensor<64xf32>) -> tensor<64xf32>
// CHECK-NEXT:    %y = fuse.einsum "ia,a,a->i" sum (%[[GA]], %[[GX]], %[[W]]) : (tensor<8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<8xf32>
// CHECK-NEXT:    func.return %y
func.func @matvec(%A: tensor<8x1000xf32>, %x: tensor<1000xf32>) -> tensor<8xf32> {
  %y = fuse.einsum "ij,j->i" sum (%A, %x) : (tensor<8x1000xf32>, tensor<1000xf32>) -> tensor<8xf32>
  func.return %y : tensor<8xf32>
}

// Two large letters: one draw each, with its own seed; the second letter's
// proposal reads the operands already gathered at the first one's draws.
// A mean is the estimated sum times 1/(number of projected positions).
// CHECK-LABEL: func.func @two_letters_mean
// CHECK:         %[[I1:.*]] = fuse.sample %{{.*}} samples 64 seed {{[0-9]+}} : tensor<100xf32> -> tensor<64xi32>
// CHECK:         %[[B1:.*]] = fuse.gather %B dim 0 (%[[I1]]) : (tensor<100x200xf32>, tensor<64xi32>) -> tensor<64x200xf32>
// CHECK:         fuse.einsum "ak,ak->k" sum (%[[B1]], %[[B1]])
// CHECK:         %[[I2:.*]] = fuse.sample %{{.*}} samples 64 seed {{[0-9]+}} : tensor<200xf32> -> tensor<64xi32>
// CHECK:         %[[B2:.*]] = fuse.gather %[[B1]] dim 1 (%[[I2]]) : (tensor<64x200xf32>, tensor<64xi32>) -> tensor<64x64xf32>
// CHECK:         %[[MEAN:.*]] = fuse.constant dense<5.000000e-05> : tensor<f32>
// CHECK-NEXT:    %m = fuse.einsum "a,ab,b,a,b,->" sum (%{{.*}}, %[[B2]], %{{.*}}, %{{.*}}, %{{.*}}, %[[MEAN]])
func.func @two_letters_mean(%u: tensor<100xf32>, %B: tensor<100x200xf32>, %v: tensor<200xf32>) -> tensor<f32> {
  %m = fuse.einsum "j,jk,k->" mean (%u, %B, %v) : (tensor<100xf32>, tensor<100x200xf32>, tensor<200xf32>) -> tensor<f32>
  func.return %m : tensor<f32>
}

// Left exact, each with its reason: a small sum, a max, and a sum inside a
// fixpoint. An einsum that projects nothing has nothing to estimate.
// CHECK-LABEL: func.func @kept
// CHECK-NEXT:    %small = fuse.einsum "ij,j->i" sum (%S, %s) {fuse.exact_reason = "every projected letter has at most 64 positions"}
// CHECK-NEXT:    %best = fuse.einsum "ij,j->i" max (%A, %x) {fuse.exact_reason = "max projection: sampling estimates sums, not maxima"}
// CHECK-NEXT:    %outer = fuse.einsum "i,j->ij" sum (%small, %x) :
// CHECK:         fuse.einsum "ij,j->i" sum (%A, %x) {fuse.exact_reason = "inside a fixpoint: a sampled step does not iterate to an unbiased fixpoint"}
// CHECK-NOT:     fuse.sample
func.func @kept(%S: tensor<8x64xf32>, %s: tensor<64xf32>, %A: tensor<8x1000xf32>, %x: tensor<1000xf32>) -> tensor<8xf32> {
  %small = fuse.einsum "ij,j->i" sum (%S, %s) : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8xf32>
  %best = fuse.einsum "ij,j->i" max (%A, %x) : (tensor<8x1000xf32>, tensor<1000xf32>) -> tensor<8xf32>
  %outer = fuse.einsum "i,j->ij" sum (%small, %x) : (tensor<8xf32>, tensor<1000xf32>) -> tensor<8x1000xf32>
  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<8xf32> {
  ^bb0(%cur: tensor<8xf32>):
    %0 = fuse.einsum "ij,j->i" sum (%A, %x) : (tensor<8x1000xf32>, tensor<1000xf32>) -> tensor<8xf32>
    fuse.yield %0 : tensor<8xf32>
  }
  func.return %p : tensor<8xf32>
}
