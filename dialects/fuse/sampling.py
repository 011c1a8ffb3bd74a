"""`fuse.sample`: positions drawn from a categorical distribution, the
first half of a Monte Carlo estimate of a projection (`fuse-monte-carlo`;
`fuse.gather` reads the drawn positions)."""

from __future__ import annotations

from xdsl.dialects.builtin import I64, IntegerAttr, TensorType, i32
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from .checks import ranked_tensor


@irdl_op_definition
class SampleOp(IRDLOperation):
    """Draws `samples` positions i.i.d. from the categorical distribution
    proportional to the rank-1 operand `q` (non-negative; the op normalizes
    it), as i32. `fuse-monte-carlo` emits it to estimate projections.

    The draw is a function of `q` and `seed` alone: every run with the same
    `q` gets the same positions, so a compiled program is deterministic.
    Each backend uses its own generator (NumPy `default_rng`, a torch
    `Generator`, StableHLO `rng_bit_generator` with THREE_FRY), so the same
    seed gives different positions on different backends: reproducibility
    is per backend, the distribution is the same everywhere.

    ```mlir
    %idx = fuse.sample %q samples 64 seed 7 : tensor<1000xf32> -> tensor<64xi32>
    ```
    """

    name = "fuse.sample"

    samples = prop_def(IntegerAttr[I64])
    seed = prop_def(IntegerAttr[I64])
    weights = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    assembly_format = (
        "$weights `samples` $samples `seed` $seed attr-dict `:` type($weights) `->` type($result)"
    )

    def __init__(
        self, weights: SSAValue, samples: int, seed: int, result_type: TensorType | None = None
    ):
        super().__init__(
            properties={"samples": IntegerAttr(samples, 64), "seed": IntegerAttr(seed, 64)},
            operands=[weights],
            result_types=[result_type or TensorType(i32, [samples])],
        )

    def verify_(self) -> None:
        samples, seed = self.samples.value.data, self.seed.value.data
        if samples < 1:
            raise VerifyException(f"fuse.sample needs samples >= 1, got {samples}")
        if seed < 0:
            raise VerifyException(f"fuse.sample needs a seed >= 0, got {seed}")
        if ranked_tensor(self.weights, "fuse.sample operand").get_num_dims() != 1:
            raise VerifyException("fuse.sample draws from a rank-1 tensor of weights")
        if self.result.type != TensorType(i32, [samples]):
            raise VerifyException(
                f"fuse.sample result must be tensor<{samples}xi32>, got {self.result.type}"
            )
