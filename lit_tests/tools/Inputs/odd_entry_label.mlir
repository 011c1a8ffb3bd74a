fuse.program {
^bb0:
  fuse.tensor @A[i] input : tensor<3xf32>
  fuse.tensor @B[i] : tensor<?xf32>
  fuse.rule @B[i] sum {
    %0 = fuse.load @A[i] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
  fuse.export @B
}
