fuse.program {
^bb0:
  fuse.tensor @A[i] input : tensor<3xf32>
^bb1:
  fuse.export @A
}
