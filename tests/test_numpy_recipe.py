"""The NumPy backend's executable format (`fuse.lowering.numpy.recipe`):
every conformance program's plan survives `save`/`load` and runs the same,
and `load` refuses anything but a plan recipe."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conformance.programs import CASES, Case

from fuse import Program
from fuse.config import ExecutionConfig
from fuse.lowering.numpy import NumpyBackend, NumpyExecutable
from fuse.lowering.numpy.recipe import KernelRecipe, decode, encode


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_loaded_plan_runs_like_the_compiled_one(case: Case, tmp_path: Path) -> None:
    runner = case.program(tmp_path).compile(backend="numpy", config=case.config)
    bound = runner.bind_inputs(case.inputs or None)
    plan = runner.plan_for(bound)
    compiled = plan.executable
    assert isinstance(compiled, NumpyExecutable)
    backend = NumpyBackend()
    loaded = backend.load(backend.save(compiled), runner.config)
    assert loaded.recipe == compiled.recipe
    args = [bound[name] for name in plan.arguments]
    for expected, actual in zip(compiled(args), loaded(args), strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert loaded.fixpoint_iterations == compiled.fixpoint_iterations
    assert loaded.held_sparse == compiled.held_sparse


def test_profile_labels_travel_with_the_recipe() -> None:
    config = ExecutionConfig(profile=True)
    runner = Program("Y[i] = relu(X[i, j] W[j])\nexport Y").compile("numpy", config)
    inputs = {"X": np.ones((2, 3), np.float32), "W": np.ones(3, np.float32)}
    runner.run(inputs)
    backend = NumpyBackend()
    loaded = backend.load(backend.save(runner.last_plan.executable), config)
    loaded([inputs["X"], inputs["W"]])
    labels = [label for label, _ in loaded.last_profile]
    assert [label.split()[0] for label in labels] == ["fuse.einsum", "fuse.unary"]


class _Smuggled:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("never printed",))


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (pickle.dumps(_Smuggled()), "cannot hold builtins.print"),
        (pickle.dumps(np.zeros(2)), "cannot hold numpy"),
        (pickle.dumps(KernelRecipe("einsum")), "not KernelRecipe"),
    ],
)
def test_decode_refuses_anything_but_a_recipe(payload: bytes, problem: str) -> None:
    with pytest.raises(pickle.UnpicklingError, match=problem):
        decode(payload)


def test_unknown_builder_is_an_error_the_cache_rebuilds_from() -> None:
    runner = Program("Y[i] = X[i] + 1.0\nexport Y").compile("numpy")
    runner.run({"X": np.ones(2, np.float32)})
    recipe = runner.last_plan.executable.recipe
    step = replace(recipe.region.steps[0], kernel=KernelRecipe("nope"))
    broken = replace(recipe, region=replace(recipe.region, steps=(step,)))
    with pytest.raises(KeyError, match="nope"):
        NumpyBackend().load(encode(broken), ExecutionConfig())
