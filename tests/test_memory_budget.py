"""Bounded memory: a plan with an array over `ExecutionConfig.max_memory` is
refused before any backend allocates, with an error naming the equation (its
location and source line), the array's shape and its bytes; a backend that
runs out of memory anyway ends in a `FuseError`, and JAX never aborts the
process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuse import ExecutionConfig, FuseError, Program
from fuse.config import default_max_memory

BACKENDS = ["numpy", "torch", "jax"]

OUTER_PRODUCT = "T[i,j,k] = A[i] B[j] C[k]\nS[i] = T[i,j,k]\nexport S\n"
TEN_THOUSAND = np.ones(10**4, dtype=np.float32)


def refusal(program: Program, backend: str, config: ExecutionConfig, inputs: dict) -> str:
    with pytest.raises(FuseError) as raised:
        program.compile(backend, config).run(inputs)
    return str(raised.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trillion_element_intermediate_is_refused_with_its_equation(backend: str) -> None:
    program = Program(OUTER_PRODUCT, "outer.fuse")
    inputs = {"A": TEN_THOUSAND, "B": TEN_THOUSAND, "C": TEN_THOUSAND}
    message = refusal(program, backend, ExecutionConfig(), inputs)
    assert message.startswith("outer.fuse:1:1: error: the equation for 'T' needs a result")
    assert "[10000x10000x10000]" in message
    assert "(4000000000000 bytes)" in message
    assert "T[i,j,k] = A[i] B[j] C[k]\n^" in message


def test_jax_refuses_in_a_subprocess_without_aborting(tmp_path: Path) -> None:
    """The process ends with Fuse's error and exit status 1, not XLA's abort."""
    (tmp_path / "outer.fuse").write_text(OUTER_PRODUCT)
    script = (
        "import numpy as np\n"
        "from fuse import Program, FuseError\n"
        f"p = Program.from_file({str(tmp_path / 'outer.fuse')!r})\n"
        "x = np.ones(10**4, np.float32)\n"
        "try:\n"
        "    p.compile('jax').run({'A': x, 'B': x, 'C': x})\n"
        "except FuseError as e:\n"
        "    raise SystemExit(str(e))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stderr
    assert "needs a result of shape [10000x10000x10000]" in result.stderr


# S[i,l] = sum_jk A[i,j] C[j,k] B[k,l]: opt_einsum contracts A with C first
# (small steps); JAX without a path goes left to right, and A B is an outer
# product of 100 x 1000 x 1000 x 100 elements (40 GB).
CHAIN = "S[i,l] = A[i,j] B[k,l] C[j,k]\nexport S\n"


def chain_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "A": rng.standard_normal((100, 1000), dtype=np.float32),
        "B": rng.standard_normal((1000, 100), dtype=np.float32),
        "C": rng.standard_normal((1000, 1000), dtype=np.float32) / 100,
    }


def test_jax_refuses_the_outer_product_its_pairwise_order_would_make() -> None:
    program = Program(CHAIN, "chain.fuse")
    message = refusal(program, "jax", ExecutionConfig(opt_level=1), chain_inputs())
    assert message.startswith("chain.fuse:1:1: error: the equation for 'S' needs a pairwise")
    assert "[100x1000x1000x100]" in message
    assert "(40000000000 bytes)" in message


@pytest.mark.parametrize(
    ("backend", "opt_level"), [("numpy", 1), ("torch", 1), ("jax", 2), ("numpy", 2)]
)
def test_an_einsum_whose_planned_path_fits_runs(backend: str, opt_level: int) -> None:
    """NumPy and Torch take opt_einsum's path even without one in the IR;
    with a path (opt_level 2) JAX follows it too."""
    inputs = chain_inputs()
    runner = Program(CHAIN).compile(backend, ExecutionConfig(opt_level=opt_level))
    expected = (inputs["A"].astype(np.float64) @ inputs["C"]) @ inputs["B"]
    np.testing.assert_allclose(runner.run(inputs)["S"], expected, rtol=1e-3, atol=1e-3)


# Under max=, every backend materializes the broadcast product over i, j, k
# (a product does not distribute over max): 40 x 40 x 40 fp32 = 256000 bytes.
MAX_PRODUCT = "Y[i] max= A[i,j] B[j,k]\nexport Y\n"


def max_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "A": rng.standard_normal((40, 40), dtype=np.float32),
        "B": rng.standard_normal((40, 40), dtype=np.float32),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_product_hidden_in_a_max_projection_counts(backend: str) -> None:
    program = Program(MAX_PRODUCT, "max.fuse")
    config = ExecutionConfig(max_memory=100_000)
    message = refusal(program, backend, config, max_inputs())
    assert message.startswith("max.fuse:1:1: error: the equation for 'Y' needs a broadcast")
    assert "[40x40x40]" in message and "(256000 bytes)" in message


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_blocks_bound_the_max_product_where_the_backend_cuts_them(backend: str) -> None:
    inputs = max_inputs()
    config = ExecutionConfig(max_memory=100_000, block_size=4)  # 4 x 40 x 40 fp32
    result = Program(MAX_PRODUCT).compile(backend, config).run(inputs)["Y"]
    expected = (inputs["A"][:, :, None] * inputs["B"][None, :, :]).max(axis=(1, 2))
    np.testing.assert_allclose(result, expected, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_limit_refuses_a_modest_program(backend: str) -> None:
    program = Program("Y[i,j] = A[i] B[j]\nexport Y\n", "small.fuse")
    inputs = {"A": np.ones(100, np.float32), "B": np.ones(100, np.float32)}
    message = refusal(program, backend, ExecutionConfig(max_memory=10_000), inputs)
    assert "the equation for 'Y' needs a result of shape [100x100]" in message
    assert "(40000 bytes), over the memory limit of 9.8 KiB (10000 bytes)" in message
    result = program.compile(backend, ExecutionConfig(max_memory=40_000)).run(inputs)["Y"]
    np.testing.assert_array_equal(result, np.ones((100, 100)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_monte_carlo_samples_count(backend: str) -> None:
    """A's columns at 50,000 sampled positions (20 x 50,000 fp32) exceed a
    1,000,000-byte limit, though the exact sum's arrays fit."""
    program = Program("S[i] = A[i,j] B[j]\nexport S\n", "mc.fuse")
    config = ExecutionConfig(projection="monte_carlo", samples=50_000, max_memory=1_000_000)
    inputs = {"A": np.ones((20, 10**5), np.float32), "B": np.ones(10**5, np.float32)}
    message = refusal(program, backend, config, inputs)
    assert message.startswith("mc.fuse:1:1: error: the equation for 'S' needs a result")
    assert "50000" in message and "(4000000 bytes)" in message
    exact = ExecutionConfig(max_memory=1_000_000)
    result = program.compile(backend, exact).run(inputs)["S"]
    np.testing.assert_array_equal(result, np.full(20, 10.0**5))


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_are_not_counted_and_none_turns_the_check_off(backend: str) -> None:
    """A runtime input is what it is: only arrays the plan makes count."""
    program = Program("S = A[i]\nexport S\n")
    inputs = {"A": np.ones(1000, np.float32)}  # 4000 bytes, over the limit
    assert program.compile(backend, ExecutionConfig(max_memory=100)).run(inputs)["S"] == 1000
    outer = Program(OUTER_PRODUCT)
    small = {"A": np.ones(200, np.float32), "B": np.ones(200, np.float32), "C": np.ones(2)}
    with pytest.raises(FuseError):
        outer.compile(backend, ExecutionConfig(max_memory=100)).run(small)
    result = outer.compile(backend, ExecutionConfig(max_memory=None)).run(small)["S"]
    np.testing.assert_array_equal(result, np.full(200, 400.0))


def test_the_default_limit_is_half_the_physical_memory() -> None:
    import os

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert ExecutionConfig().max_memory == default_max_memory() == total // 2


@pytest.mark.parametrize("value", [-1, 1.5, True, "1G"])
def test_max_memory_validates(value: object) -> None:
    with pytest.raises(ValueError, match=r"ExecutionConfig\.max_memory="):
        ExecutionConfig(max_memory=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error", [MemoryError(), type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory")]
)
@pytest.mark.parametrize("step", ["compiling", "running"])
def test_running_out_of_memory_anyway_is_a_fuse_error_naming_the_step(
    error: Exception, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Program("Y[i] = A[i]\nexport Y\n").compile("numpy")

    def fail(*_: object) -> None:
        raise error

    if step == "compiling":
        monkeypatch.setattr(runner.backend, "compile", fail)
    else:
        runner.run({"A": np.ones(3, np.float32)})
        plan = runner.last_plan
        assert plan is not None
        monkeypatch.setattr(plan, "executable", fail)
    with pytest.raises(FuseError, match=f"the numpy backend ran out of memory {step} the program"):
        runner.run({"A": np.ones(3, np.float32)})


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_array_inside_a_fixpoint_names_its_recursive_equation(backend: str) -> None:
    """The recursive step's broadcast product (30^3 fp32) is refused with
    the line of the recursive rule, not of the tensor's first rule."""
    text = "Path[x,y] max= Edge[x,y]\nPath[x,z] max= Path[x,y] Edge[y,z]\nexport Path\n"
    edges = {"Edge": np.eye(30, dtype=np.float32)}
    message = refusal(Program(text, "rec.fuse"), backend, ExecutionConfig(max_memory=20_000), edges)
    assert message.startswith("rec.fuse:2:1: error: the equation for 'Path' needs a broadcast")
    assert "Path[x,z] max= Path[x,y] Edge[y,z]\n^" in message
