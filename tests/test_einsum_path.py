"""`fuse-einsum-path`: splitting n-ary joins into binary steps changes no
result. Random 3-5 operand joins run through the Program API at opt_level 1
(n-ary einsums) and 2 (the pass), and the recorded contraction path is
checked against the NumPy backend's own reading of opt_einsum paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import PassPipeline

from fuse import ExecutionConfig, Program
from fuse.dialects.fuse import EinsumOp
from fuse.lowering.numpy.kernels import einsum
from fuse.passes.einsum_path import EinsumPathPass, contraction_tree
from fuse.pipeline import available_passes, dataflow_passes

INDICES = "ijklmn"


@st.composite
def joins(draw: st.DrawFn) -> tuple[str, dict[str, np.ndarray]]:
    """A program `Y[out] op= factor factor ...` with 3-5 tensor factors over
    random indices (sizes 1-5), maybe a literal and a runtime scalar."""
    sizes = {i: draw(st.integers(1, 5)) for i in INDICES}
    count = draw(st.integers(3, 5))
    accesses = [
        draw(st.lists(st.sampled_from(INDICES), min_size=1, max_size=3, unique=True))
        for _ in range(count)
    ]
    used = list(dict.fromkeys(i for access in accesses for i in access))
    out = draw(st.lists(st.sampled_from(used), max_size=3, unique=True))
    factors = [f"T{n}[{','.join(access)}]" for n, access in enumerate(accesses)]
    if draw(st.booleans()):
        factors.insert(draw(st.integers(0, len(factors))), "0.5")
    if draw(st.booleans()):
        factors.insert(draw(st.integers(0, len(factors))), "s")
    op = draw(st.sampled_from(["=", "avg=", "max="]))
    lhs = f"Y[{','.join(out)}]" if out else "Y"
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # Positive values: no cancellation, so reordered fp32 sums agree to rtol.
    inputs = {
        f"T{n}": rng.uniform(0.5, 1.5, [sizes[i] for i in access]).astype(np.float32)
        for n, access in enumerate(accesses)
    }
    if "s" in factors:
        inputs["s"] = np.float32(rng.uniform(0.5, 1.5))
    return f"{lhs} {op} {' '.join(factors)}\nexport Y\n", inputs


def einsums(module: ModuleOp) -> list[EinsumOp]:
    return [op for op in module.walk() if isinstance(op, EinsumOp)]


@settings(max_examples=30, deadline=None)
@given(joins())
def test_split_joins_compute_the_same(case: tuple[str, dict[str, np.ndarray]]) -> None:
    text, inputs = case
    results = {}
    for level in (1, 2):
        runner = Program(text).compile(config=ExecutionConfig(opt_level=level))
        results[level] = runner.run(inputs)["Y"]
    np.testing.assert_allclose(results[2], results[1], rtol=1e-5)
    split = einsums(runner.last_plan.module)
    assert all(len(op.inputs) <= 2 or op.kind.data == "max" for op in split), text


@pytest.mark.parametrize(
    "subscripts",
    ["ab,bc,cd,de->ae", ",ab,b,,c->ac", "ab,bc,cd->a", "ab,bc,ca->", "abc,cd,de,ea->bd"],
)
@pytest.mark.parametrize("strategy", ["auto", "greedy", "optimal", "dp", "branch-2"])
def test_recorded_path_is_the_tree(subscripts: str, strategy: str) -> None:
    """The steps, read as an opt_einsum path over the original operands,
    are a valid path whose contraction is the einsum."""
    rng = np.random.default_rng(0)
    inputs, output = subscripts.split("->")
    letters = inputs.split(",")
    sizes = dict(zip("abcde", (3, 4, 2, 5, 3), strict=True))
    shapes = tuple(tuple(sizes[c] for c in term) for term in letters)
    arrays = [rng.uniform(0.5, 1.5, shape).astype(np.float32) for shape in shapes]
    steps = contraction_tree(subscripts, shapes, strategy)
    path = [step.positions for step in steps]
    result = einsum(letters, output, shapes, "sum", path)(*arrays)
    np.testing.assert_allclose(result, np.einsum(subscripts, *arrays), rtol=1e-5)
    assert all(len(step.positions) <= 2 for step in steps)


def test_paths_are_cached() -> None:
    shapes = ((2, 3), (3, 4), (4, 5))
    contraction_tree("ab,bc,cd->ad", shapes, "greedy")
    hits = contraction_tree.cache_info().hits
    assert contraction_tree("ab,bc,cd->ad", shapes, "greedy") is not None
    assert contraction_tree.cache_info().hits == hits + 1


def test_opt_level_2_runs_the_pass() -> None:
    spec = "fuse-einsum-path{strategy=auto}"
    assert spec in dataflow_passes(ExecutionConfig(opt_level=2))
    assert not any("einsum-path" in p for p in dataflow_passes(ExecutionConfig(opt_level=1)))
    assert PassPipeline.parse_spec(available_passes(), spec).passes == (
        EinsumPathPass(strategy="auto"),
    )


def test_unknown_strategy_is_an_error() -> None:
    with pytest.raises(ValueError, match="strategy 'fast' is not one of auto, greedy"):
        EinsumPathPass(strategy="fast")
