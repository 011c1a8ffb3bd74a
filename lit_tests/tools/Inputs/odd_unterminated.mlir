builtin.module {
  fuse.program {
    fuse.tensor @W[i] source "w.npy : tensor<?xf32>
  }
}
