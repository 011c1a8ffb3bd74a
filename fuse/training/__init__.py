"""Training Fuse programs: optimizers, the fit loop and checkpoints."""
