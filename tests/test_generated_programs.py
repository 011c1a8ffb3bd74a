"""Random programs (tests/generated_programs.py) on every backend, against
the generator's own NumPy reference evaluator, which reads the semantics of
DESIGN.md section 3 without using the compiler.

`FUSE_FUZZ_EXAMPLES` sets how many programs to draw (default 150, small
enough for CI); scripts/fuzz_programs.sh N runs a long campaign."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from generated_programs import GeneratedProgram, evaluate, programs, render
from hypothesis import HealthCheck, assume, given, settings

from fuse import Program

BACKENDS = ("numpy", "torch", "jax")
EXAMPLES = int(os.environ.get("FUSE_FUZZ_EXAMPLES", "150"))
RTOL = 1e-4  # fp32 runs against a float64 reference
ATOL_PER_BOUND = 1e-5  # absolute tolerance per unit of the value's magnitude bound


def as_numpy(value: Any) -> np.ndarray:
    """A result of any backend (NumPy array, torch tensor, JAX array)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def check_on_every_backend(program: GeneratedProgram) -> None:
    """Compile `program` once per backend, run it and compare every tensor
    it defines with the reference."""
    reference = evaluate(program)
    assume(not reference.ambiguous)  # a Boolean step too close to 0 for fp32
    text = render(program)
    for backend in BACKENDS:
        outputs = (
            Program(text, "generated.fuse").compile(backend=backend).run(program.runtime_inputs())
        )
        assert sorted(outputs) == sorted(reference.values), (backend, text)
        for name, expected in reference.values.items():
            actual = as_numpy(outputs[name])
            assert actual.shape == expected.shape, (backend, name, text)
            np.testing.assert_allclose(
                actual,
                expected,
                rtol=RTOL,
                atol=ATOL_PER_BOUND * max(1.0, reference.bounds[name]),
                err_msg=f"{backend}: {name} of\n{text}",
            )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(programs())
def test_generated_programs_agree_with_the_reference(program: GeneratedProgram) -> None:
    check_on_every_backend(program)
