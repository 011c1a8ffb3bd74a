"""Loads exported Fuse artifacts and runs them, without importing Fuse.

Usage: python load_and_run.py FORMAT DIRECTORY. For each `NAME.inputs.npz`
in DIRECTORY it loads the artifact `NAME.<suffix>`, calls it with those
inputs and saves the outputs to `NAME.outputs.npz`; `NAME@TAG.inputs.npz`
calls the same artifact `NAME.<suffix>` again (an artifact with symbolic
sizes, at other sizes) and saves `NAME@TAG.outputs.npz` (fixpoint status rows
under `fixpoint_status/<tensors>`). Where `NAME.loss.txt` names a scalar
export (jax format), it also saves `jax.grad` of that export with respect
to every input, under `grad/<input>`. Exits 1 if anything imported `fuse`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def flatten(results: dict, prefix: str = "") -> dict[str, np.ndarray]:
    flat = {}
    for key, value in results.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = np.asarray(
                value.detach() if hasattr(value, "detach") else value
            )
    return flat


def run_jax(path: Path, inputs: dict[str, np.ndarray]) -> dict:
    import jax

    exported = jax.export.deserialize(bytearray(path.read_bytes()))
    results = jax.jit(exported.call)(inputs)
    loss_file = path.with_suffix(".loss.txt")
    if loss_file.exists():
        loss = loss_file.read_text().strip()
        results["grad"] = jax.jit(jax.grad(lambda x: exported.call(x)[loss]))(inputs)
    return results


def run_stablehlo(path: Path, inputs: dict[str, np.ndarray]) -> dict:
    """Compiles the portable bytecode with XLA directly: arguments in the
    order of the input names, sorted (how jax flattens a dict); results in
    the order of the result names, sorted, each named by `jax.result_info`.
    An artifact with symbolic sizes has dynamic dimensions: StableHLO's own
    passes refine them to the arguments' types before XLA compiles it (the
    recipe in docs/export.md)."""
    import re

    import jax
    import jax.extend.backend
    from jax.extend.mlir import ir, passmanager
    from jax.extend.mlir.dialects import stablehlo

    arguments = [inputs[name] for name in sorted(inputs)]
    types = ",".join(f"tensor<{''.join(f'{n}x' for n in a.shape)}f32>" for a in arguments)
    with ir.Context() as context:
        stablehlo.register_dialect(context)
        stablehlo.register_stablehlo_passes()
        module = stablehlo.deserialize_portable_artifact(context, path.read_bytes())
        passmanager.PassManager.parse(
            "builtin.module(func.func(stablehlo-legalize-composite-to-call),inline,"
            f"stablehlo-refine-arguments{{types={types}}},stablehlo-refine-shapes,"
            "func.func(stablehlo-check-shape-assertions))"
        ).run(module.operation)
        text = str(module)
    main = next(line for line in text.splitlines() if "func.func public @main" in line)
    infos = re.findall(r'jax\.result_info = "result((?:\[\'[^\']*\'\])+)"', main)
    names = ["/".join(re.findall(r"\['([^']*)'\]", info)) for info in infos]
    device = jax.devices("cpu")[0]
    executable = jax.extend.backend.get_backend("cpu").compile_and_load(text, [device])
    outputs = executable.execute([jax.device_put(a, device) for a in arguments])
    return dict(zip(names, outputs, strict=True))


def run_torch(path: Path, inputs: dict[str, np.ndarray]) -> dict:
    import torch

    program = torch.export.load(path).module()
    return program({name: torch.from_numpy(value) for name, value in inputs.items()})


RUNNERS = {
    "jax": (".jax", run_jax),
    "stablehlo": (".mlirbc", run_stablehlo),
    "torch": (".pt2", run_torch),
}


def main() -> int:
    format, directory = sys.argv[1], Path(sys.argv[2])
    suffix, run = RUNNERS[format]
    for inputs_file in sorted(directory.glob("*.inputs.npz")):
        name = inputs_file.name.removesuffix(".inputs.npz")
        inputs = dict(np.load(inputs_file))
        artifact = name.partition("@")[0]
        results = flatten(run(directory / f"{artifact}{suffix}", inputs))
        np.savez(directory / f"{name}.outputs.npz", **results)
    return 1 if "fuse" in sys.modules else 0


if __name__ == "__main__":
    sys.exit(main())
