"""The artifact cache behind `Program.compile(..., cache_dir=...)`, and the
`CompiledPlan` it stores.

A runner compiles once per input-shape signature; with a cache directory,
what that compile produced is kept on disk so a later process (or runner)
skips the pass pipeline and, on the jax backend, XLA.

Key: the sha256 of the program text and file name, the backend, every
`ExecutionConfig` field, the input shapes, the symbol domains of source
dimensions (they decide how sinks are written), the `RuntimePolicies`
fingerprint, the versions of fuse, xdsl, xdsl-jax, jax, jaxlib, torch and
numpy that are installed, and a digest of fuse's own source files, taken
once per process (an editable install changes without its version
changing). Inputs are bound as float32, the IR's element type, so dtypes add
nothing to the key.

Entry: a directory `<cache_dir>/<key>/` holding

* `dataflow.ir`: the optimized dataflow IR in `fuse.runtime.ir_codec`'s
  binary form, which loads about ten times faster than xDSL parses text; an
  entry is only written when it decodes to IR that prints the same;
* `dataflow.mlir`: the same IR in MLIR's generic form, for people reading
  the cache (a warm compile never reads it);
* `plan.json`: the names of `@main`'s arguments and results, what
  `explain()` reports and the sinks' symbol domains (these come from the
  declarative level, which a warm compile never builds);
* jax: `stablehlo.mlir`, `signature.json` (argument and result names and
  types, the device) and, for programs without fixpoints, `xla.bin`: the
  XLA executable of `xla_callable`, serialized by
  `jax.experimental.serialize_executable` (verified to work in jaxlib
  0.10.2). A fixpoint's divergence check is a host callback, which cannot
  be serialized: such programs keep the StableHLO only and XLA compiles it
  on the first run (no Fuse pass and no StableHLO conversion runs). A plan
  compiled to draw progress bars (a terminal run; the key says so) also
  keeps `progress.mlir`, the module with its loops' progress callbacks;
* numpy and torch (backends with `save`/`load`, see
  `fuse.lowering.backend`): `executable.bin`, the executable as the backend
  saved it: NumPy's plan recipe, plain data (`fuse.lowering.numpy.recipe`);
  torch's generated `forward` code, buffers and signature
  (`fuse.lowering.torch.saved`). Torch saves no executable for a program
  with fixpoints: a warm compile rebuilds it from the cached IR;
* torch: `fx.py`, the generated FX code, for reading and diffing;
* `manifest.json`: the key, the format version and the sha256 of every file.

A warm compile reads the entry and checks every checksum, then loads the
executable (jax: `xla.bin`, or the StableHLO for XLA to compile on the
first run) and decodes the IR only when `plan.module` is read; for a torch
program with fixpoints it decodes the IR and hands it to the backend. An
entry that is missing a file, fails a checksum, has another layout
(`FORMAT`) or does not load for any other reason is reported with
`warnings.warn` and rebuilt; a compile never fails because of the cache, and
a cache directory that cannot be written only warns.

Writes are atomic: an entry is built in a temporary directory and renamed
into place, so readers see a whole entry or none. Building holds an
exclusive `fcntl.flock` on `<cache_dir>/<key>.lock`, and a process that
waited on the lock reads the entry its peer built instead of building it
again. Loading an executable (an XLA executable, a torch module's code) is
as trusting as JAX's and torch.compile's own caches: use a cache directory
only you can write.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, astuple, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.printer import Printer

from fuse.config import ExecutionConfig
from fuse.lowering.backend import Backend, Executable
from fuse.runtime import ir_codec
from fuse.runtime.explain import Explanation, RuleSummary

__all__ = ["ArtifactCache", "CompiledPlan", "CompiledXla", "OutputSpec", "cache_key"]

FORMAT = 3  # 2: the IR as `dataflow.ir`; 3: `executable.bin` (numpy, torch)
_MANIFEST = "manifest.json"
_SAVED = "executable.bin"
_VERSIONED = ("fuse-ai", "xdsl", "xdsl-jax", "jax", "jaxlib", "torch", "numpy")
_FUSE_PACKAGES = ("fuse", "fuse.dialects", "fuse.passes", "fuse.lowering")


@dataclass(frozen=True)
class OutputSpec:
    """One result of `@main`: an export (`name`) or a sink (`path`, `dims`)."""

    name: str | None
    path: str | None
    dims: tuple[str, ...] = ()


@dataclass
class CompiledPlan:
    """One shape specialization of a program. `ir` is the dataflow module,
    or its `ir_codec` form until `module` is first read."""

    ir: ModuleOp | bytes
    executable: Executable
    arguments: list[str]
    outputs: list[OutputSpec]
    explanation: Explanation
    sink_domains: list[tuple[str | None, ...]]
    compile_seconds: float = 0.0

    @property
    def module(self) -> ModuleOp:
        if isinstance(self.ir, bytes):
            self.ir = ir_codec.decode(self.ir)
        return self.ir


def cache_key(parts: Mapping[str, Any]) -> str:
    """The entry name for a compile described by `parts` (JSON values)."""
    described = {**parts, "format": FORMAT, "versions": _versions(), "sources": _fuse_digest()}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


class ArtifactCache:
    """Compile artifacts under `root`, one directory per key (see the module
    docstring). `hits` and `misses` count warm and cold compiles."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser()
        self.hits = 0
        self.misses = 0

    def compile(
        self,
        key: str,
        backend: Backend,
        config: ExecutionConfig,
        build: Callable[[], CompiledPlan],
    ) -> CompiledPlan:
        """The entry `key` loaded for `backend`, or `build()` stored as it.
        A damaged entry is reported once, by the check made under the lock."""
        loaded = self._load(key, backend, config, report=False)
        if loaded is None:
            with contextlib.ExitStack() as stack:
                try:
                    stack.enter_context(self._locked(key))
                except OSError as error:  # an unwritable cache directory
                    _warn(f"cannot lock {self.root} ({error}); compiling without the cache")
                    self.misses += 1
                    return build()
                loaded = self._load(key, backend, config, report=True)  # a peer may have built it
                if loaded is None:
                    return self._build(key, backend, config, build)
        self.hits += 1
        return loaded

    def _build(
        self,
        key: str,
        backend: Backend,
        config: ExecutionConfig,
        build: Callable[[], CompiledPlan],
    ) -> CompiledPlan:
        self.misses += 1
        built = build()
        text = _print(built.module)
        try:
            encoded = ir_codec.encode(built.module)
            if _print(ir_codec.decode(encoded)) != text:
                raise ir_codec.CodecError("the decoded IR prints differently")
        except ir_codec.CodecError as error:
            _warn(f"the optimized IR cannot be stored ({error}); this compile is not cached")
            return built
        executable, files = _pack(backend, built, config)
        files["dataflow.ir"] = encoded
        files["dataflow.mlir"] = text.encode()
        files["plan.json"] = json.dumps(
            {
                "arguments": built.arguments,
                "outputs": [astuple(output) for output in built.outputs],
                "explanation": [asdict(rule) for rule in built.explanation.rules],
                "sink_domains": built.sink_domains,
            }
        ).encode()
        try:
            self._write(key, files)
        except OSError as error:
            _warn(f"cannot write {self.root / key} ({error}); the compile is not cached")
        built.executable = executable
        return built

    def _load(
        self, key: str, backend: Backend, config: ExecutionConfig, *, report: bool
    ) -> CompiledPlan | None:
        """The plan entry `key` holds; None when there is none or it does not
        load (with a warning when `report`)."""
        entry = self.root / key
        try:
            files = self._read(entry, key)
            if files is None:
                return None
            ir: ModuleOp | bytes = files["dataflow.ir"]
            plan = json.loads(files["plan.json"])
            if backend.name == "jax":
                executable = _load_jax(files)
            elif _SAVED in files:
                executable = backend.load(files[_SAVED], config)  # type: ignore[attr-defined]
            else:
                ir = ir_codec.decode(ir)
                executable = backend.compile(ir, config)
            return CompiledPlan(
                ir,
                executable,
                plan["arguments"],
                [OutputSpec(name, path, tuple(dims)) for name, path, dims in plan["outputs"]],
                Explanation(
                    [
                        RuleSummary(
                            **{
                                **r,
                                "projections": tuple(r["projections"]),
                                "runs_as": tuple(r.get("runs_as", ())),
                            }
                        )
                        for r in plan["explanation"]
                    ]
                ),
                [tuple(domains) for domains in plan["sink_domains"]],
            )
        except Exception as error:  # anything an entry can hold must mean "rebuild", never a crash
            if report:
                _warn(f"cache entry {entry} does not load ({error!r}); rebuilding")
            return None

    def _read(self, entry: Path, key: str) -> dict[str, bytes] | None:
        """The entry's files, checked against the manifest; None when there is
        no entry, a ValueError saying why when it is there but damaged."""
        try:
            manifest = json.loads((entry / _MANIFEST).read_bytes())
            if manifest.get("format") != FORMAT or manifest.get("key") != key:
                raise ValueError("manifest of another format or key")
            files = {name: (entry / name).read_bytes() for name in manifest["files"]}
        except (FileNotFoundError, NotADirectoryError):
            if entry.is_dir():
                raise ValueError("a file is missing") from None
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"unreadable manifest or file: {error}") from None
        for name, data in files.items():
            if _digest(data) != manifest["files"][name]:
                raise ValueError(f"{name} fails its checksum")
        return files

    def _write(self, key: str, files: Mapping[str, bytes]) -> None:
        """Builds the entry beside its final place, then renames it in."""
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        try:
            for name, data in files.items():
                (staging / name).write_bytes(data)
            manifest = {
                "format": FORMAT,
                "key": key,
                "files": {n: _digest(d) for n, d in files.items()},
            }
            (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1))
            entry = self.root / key
            if entry.exists():  # a damaged entry: moved aside, since rename needs an empty target
                os.rename(entry, staging.with_name(staging.name + ".old"))
            os.rename(staging, entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(staging.with_name(staging.name + ".old"), ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{key}.lock", "wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            yield


# --- per backend --------------------------------------------------------------


def _pack(
    backend: Backend, plan: CompiledPlan, config: ExecutionConfig
) -> tuple[Executable, dict[str, bytes]]:
    """The backend's own artifacts, and the executable the runner should use
    (jax: one that runs the executable just serialized, so XLA compiles once)."""
    executable: Any = plan.executable
    files: dict[str, bytes] = {}
    save = getattr(backend, "save", None)
    saved = save(executable) if save is not None else None
    if saved is not None:
        files[_SAVED] = saved
    if backend.name == "torch":
        from fuse.lowering.torch import graph_code

        files["fx.py"] = graph_code(executable.fx_module).encode()
    if backend.name != "jax":
        return executable, files
    signature = executable.signature
    described = {
        "platform": executable.platform,
        "device": executable.device.id,
        "arg_names": signature.arg_names,
        "arg_types": [[shape, np.dtype(dtype).name] for shape, dtype in signature.arg_types],
        "result_names": signature.result_names,
        "result_types": [[shape, np.dtype(dtype).name] for shape, dtype in signature.result_types],
        "statuses": signature.statuses,
    }
    files |= {
        "stablehlo.mlir": executable.stablehlo_text.encode(),
        "signature.json": json.dumps(described).encode(),
    }
    if executable.progress_text is not None:
        files["progress.mlir"] = executable.progress_text.encode()
    # Fixpoint statuses and progress bars are host callbacks, which cannot be
    # serialized; `xla_callable` returns results by name, so names must differ.
    if (
        signature.statuses
        or executable.progress_text is not None
        or len(set(signature.result_names)) < len(signature.result_names)
    ):
        return executable, files
    from jax.experimental.serialize_executable import serialize

    compiled = executable.xla_callable.lower(_input_specs(executable)).compile()
    try:
        files["xla.bin"] = serialize(compiled)[0]
    except (ValueError, NotImplementedError) as error:  # a platform that cannot serialize
        _warn(f"the XLA executable cannot be serialized ({error}); caching StableHLO only")
    return CompiledXla(executable, compiled), files


def _load_jax(files: Mapping[str, bytes]) -> Executable:
    """The executable `_pack` stored, without the IR or the StableHLO pass."""
    import jax

    from fuse.lowering.jax.backend import JaxExecutable, Signature

    described = json.loads(files["signature.json"])
    device = next(d for d in jax.devices(described["platform"]) if d.id == described["device"])
    signature = Signature(
        tuple(described["arg_names"]),
        tuple((tuple(s), np.dtype(t)) for s, t in described["arg_types"]),
        tuple(described["result_names"]),
        tuple((tuple(s), np.dtype(t)) for s, t in described["result_types"]),
        tuple(tuple(names) for names in described["statuses"]),
    )
    progress = files.get("progress.mlir")
    executable = JaxExecutable(
        files["stablehlo.mlir"].decode(),
        signature,
        device.platform,
        device,
        progress_text=progress.decode() if progress is not None else None,
    )
    if "xla.bin" not in files:
        return executable
    from jax.experimental.serialize_executable import deserialize_and_load

    compiled = deserialize_and_load(
        files["xla.bin"],
        jax.tree_util.tree_structure(((dict.fromkeys(signature.arg_names, 0),), {})),
        jax.tree_util.tree_structure(dict.fromkeys(signature.result_names, 0)),
        backend=device.client,
        execution_devices=[device],
    )
    return CompiledXla(executable, compiled)


class CompiledXla:
    """A `JaxExecutable` whose runs call an already compiled XLA executable
    (of its `xla_callable`), freshly compiled or loaded from the cache; its
    other attributes (`stablehlo_text`, `xla_callable`, `signature`, ...)
    are the JaxExecutable's."""

    def __init__(self, executable: Any, compiled: Any):
        self.executable = executable
        self._compiled = compiled

    def __call__(self, args: list[np.ndarray]) -> list[np.ndarray]:
        signature = self.executable.signature
        results = self._compiled(dict(zip(signature.arg_names, args, strict=True)))
        return [np.asarray(results[name]) for name in signature.result_names]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle probe dunders before __init__ ran
            raise AttributeError(name)
        return getattr(self.executable, name)


def _input_specs(executable: Any) -> dict[str, Any]:
    import jax

    on_device = jax.sharding.SingleDeviceSharding(executable.device)
    signature = executable.signature
    return {
        name: jax.ShapeDtypeStruct(shape, dtype, sharding=on_device)
        for name, (shape, dtype) in zip(signature.arg_names, signature.arg_types, strict=True)
    }


# --- helpers ------------------------------------------------------------------


def _print(module: ModuleOp) -> str:
    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return stream.getvalue()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def _versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


@cache
def _fuse_digest() -> str:
    """A digest of every Python file of fuse's packages."""
    digest = hashlib.sha256()
    for package in _FUSE_PACKAGES:
        spec = importlib.util.find_spec(package)
        roots = (spec.submodule_search_locations or []) if spec is not None else []
        for root in roots:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(f"{package}/{path.relative_to(root)}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _warn(message: str) -> None:
    warnings.warn(f"fuse cache: {message}", RuntimeWarning, stacklevel=2)
