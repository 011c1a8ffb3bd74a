"""Sharding in tensor-logic terms, carried out by XLA's SPMD partitioner.

A program shares index names across its tensors, so a user shards by
*index*: `RuntimePolicies(sharding={"b": "data", "d": "model"})` splits
every tensor that has index `b` along mesh axis `data` and every tensor
with `d` along `model`. A tensor name maps to a per-dimension tuple that
overrides the index rule for that tensor: `{"W": ("model", None)}`. A
tensor's indices are those of its `fuse.tensor` declaration (the names it
is defined with, or first read with).

`ExecutionConfig(mesh=...)` is a `jax.sharding.Mesh`, or axis sizes such as
`{"data": 4, "model": 2}` laid over the first devices JAX offers. The
resolved per-tensor axes are written on `@main`'s arguments and results as
`fuse.sharding` attributes (so `fuse compile --emit dataflow` shows them);
the jax backend turns them into `NamedSharding`s at the edges of the
compiled program and XLA's partitioner (Shardy) propagates them through it,
inserting the collectives the computation needs (an all-reduce where a
sharded index is projected). Fixpoints run sharded: their convergence test
is a reduction over the whole tensor, which the partitioner makes global.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr

from fuse.errors import FuseError
from fuse.lowering.backend import SHARDING_ATTR
from fuse.runtime.declarations import TensorDeclaration

Axes = tuple[str | None, ...]


def resolve_sharding(
    policy: Mapping[str, str | Sequence[str | None]],
    declarations: Sequence[TensorDeclaration],
) -> dict[str, Axes]:
    """Per tensor, the mesh axis of each dimension (None: not split), from
    index rules and tensor overrides; only tensors with a split dimension
    are listed. Errors name the unknown index or tensor, or the mesh axis a
    tensor would use twice."""
    tensors = {d.name: d for d in declarations}
    indices = sorted({index for d in declarations for index in d.indices})
    by_index: dict[str, str] = {}
    overrides: dict[str, Axes] = {}
    for key, value in policy.items():
        if key in tensors:
            axes = (value,) if isinstance(value, str) else tuple(value)
            if len(axes) != tensors[key].rank:
                raise FuseError(
                    f"RuntimePolicies.sharding['{key}'] gives {len(axes)} mesh axes, but "
                    f"'{key}' has {tensors[key].rank} dimensions"
                )
            overrides[key] = axes
        elif key in indices:
            if not isinstance(value, str):
                raise FuseError(
                    f"RuntimePolicies.sharding['{key}']={value!r}: an index maps to one mesh "
                    "axis name (a tensor name maps to a tuple)"
                )
            by_index[key] = value
        else:
            raise FuseError(
                f"RuntimePolicies.sharding names '{key}', which is neither an index nor a "
                f"tensor of the program (indices: {', '.join(indices) or 'none'}; tensors: "
                f"{', '.join(sorted(tensors))})"
            )
    resolved: dict[str, Axes] = {}
    for declaration in declarations:
        axes = overrides.get(declaration.name) or tuple(
            by_index.get(index) for index in declaration.indices
        )
        named = [axis for axis in axes if axis is not None]
        repeated = sorted({axis for axis in named if named.count(axis) > 1})
        if repeated:
            raise FuseError(
                f"sharding '{declaration.name}[{', '.join(declaration.indices)}]' would split "
                f"two dimensions along mesh axis '{repeated[0]}'; a mesh axis splits one "
                "dimension of a tensor"
            )
        if named:
            resolved[declaration.name] = axes
    return resolved


def annotate_main(module: ModuleOp, resolved: Mapping[str, Axes]) -> None:
    """Writes each sharded argument's and result's axes on `@main` as
    `fuse.sharding` (results by their `fuse.name`)."""
    main = next(
        op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == "main"
    )
    inputs, outputs = main.function_type.inputs.data, main.function_type.outputs.data
    main.arg_attrs = _with_sharding(main.arg_attrs, len(inputs), resolved)
    main.res_attrs = _with_sharding(main.res_attrs, len(outputs), resolved)


def _with_sharding(
    attrs: ArrayAttr[DictionaryAttr] | None, count: int, resolved: Mapping[str, Axes]
) -> ArrayAttr[DictionaryAttr]:
    dicts = [dict(d.data) for d in attrs.data] if attrs is not None else [{}] * count
    annotated = []
    for entries in dicts:
        name = entries.get("fuse.name")
        axes = resolved.get(name.data) if isinstance(name, StringAttr) else None
        if axes is not None:
            entries = {
                **entries,
                SHARDING_ATTR: ArrayAttr([StringAttr(axis or "") for axis in axes]),
            }
        annotated.append(DictionaryAttr(entries))
    return ArrayAttr(annotated)


COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")


def collectives(hlo: str) -> dict[str, int]:
    """How many of each collective an optimized HLO module holds (the async
    `-start` form counts once, its `-done` not at all)."""
    import re

    counts = {}
    for name in COLLECTIVES:
        found = re.findall(rf"= \S+ {name}(?:-start)?\(", hlo)
        if found:
            counts[name] = len(found)
    return counts


def describe_sharding(resolved: Mapping[str, Axes], executable: object) -> str:
    """The `explain()` section of a sharded run: the mesh, each split
    tensor's axes, and the collectives XLA inserted."""
    mesh = executable.mesh  # type: ignore[attr-defined]
    sizes = ", ".join(f"{a}={n}" for a, n in zip(mesh.axis_names, mesh.devices.shape, strict=True))
    signature = executable.signature  # type: ignore[attr-defined]
    pinned = {*signature.arg_names, *signature.result_names}
    lines = [f"sharding over mesh ({sizes}):"]
    for tensor, axes in sorted(resolved.items()):
        spec = ", ".join(axis or "-" for axis in axes)
        how = "" if tensor in pinned else "  (inside the program: as XLA propagates)"
        lines.append(f"  {tensor}[{spec}]{how}")
    found = collectives(executable.compiled_hlo())  # type: ignore[attr-defined]
    summary = ", ".join(f"{name} x{count}" for name, count in found.items()) or "none"
    lines.append(f"collectives inserted by XLA: {summary}")
    return "\n".join(lines)
