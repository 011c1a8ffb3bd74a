"""The jax backend: `convert-fuse-to-stablehlo`, then XLA through jaxlib.

* `backend.py`: `JaxBackend` (names "jax" and "xla") and `JaxExecutable`;
* `xla_call.py`: the JAX primitive behind `JaxExecutable.xla_callable`;
* `hlo_builder.py`, `einsum.py`, `extra_ops.py`: helpers of the conversion
  pass (`fuse.passes.convert_fuse_to_stablehlo`), which imports them, so this
  package re-exports nothing (that would make the imports circular).

Neither this package nor `backend.py` imports JAX; compiling a program does.
"""
