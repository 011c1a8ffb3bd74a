fuse.program {
  fuse.tensor @A[i, j] input : tensor<3x2xf32>
  fuse.tensor @Neg[i, j] : tensor<?x?xf32>
  fuse.tensor @Pos[i, j] : tensor<?x?xf32>
  fuse.tensor @Sum[i] : tensor<?xf32>
  fuse.rule @Neg[i, j] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.literal -0.0 : f32 -> !fuse.expr<>
    %2 = fuse.arith div %0, %1 : !fuse.expr<i, j>, !fuse.expr<>
    fuse.yield %2 : !fuse.expr<i, j>
  }
  fuse.rule @Pos[i, j] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.literal 0.0 : f32 -> !fuse.expr<>
    %2 = fuse.arith div %0, %1 : !fuse.expr<i, j>, !fuse.expr<>
    fuse.yield %2 : !fuse.expr<i, j>
  }
  fuse.rule @Sum[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    %1 = fuse.literal -0.0 : f32 -> !fuse.expr<>
    %2 = fuse.arith div %0, %1 : !fuse.expr<i, j>, !fuse.expr<>
    fuse.yield %2 : !fuse.expr<i, j>
  }
  fuse.export @Neg
  fuse.export @Pos
  fuse.export @Sum
}
