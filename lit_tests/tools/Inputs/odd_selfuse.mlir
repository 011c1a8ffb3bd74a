builtin.module {
  fuse.program {
    fuse.tensor @Y[i] : tensor<?xf32>
    fuse.tensor @W[i] input : tensor<?xf32>
    fuse.rule @Y[i] sum {
      %0 = fuse.load @W[i] : !fuse.expr<i>
      %1 = fuse.arith add %0, %1 : !fuse.expr<i>, !fuse.expr<i>
      fuse.yield %1 : !fuse.expr<i>
    }
  }
}
