fuse.program {
^bb0(%x: f32):
  fuse.tensor @A[i] input : tensor<3xf32>
  fuse.export @A
}
