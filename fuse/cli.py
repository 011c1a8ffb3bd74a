"""`fuse run` and `fuse compile` (also `python -m fuse ...`).

Every failure a user can cause (a bad program, a missing file, a shape
conflict, a bad option value) prints one clear message to stderr and exits
with status 1; no Python traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fuse.config import ExecutionConfig
from fuse.errors import FuseError

if TYPE_CHECKING:
    from fuse.program import Program

EMIT_CHOICES = ("ast", "fuse", "dataflow", "stablehlo", "fx")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fuse", description="Compile and run Fuse programs.")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("program", help="a .fuse program")
        sub.add_argument(
            "--input",
            action="append",
            default=[],
            metavar="NAME=FILE",
            help="bind a runtime input (or override a source) from a file",
        )
        sub.add_argument(
            "--allow-path",
            action="append",
            default=[],
            metavar="DIR",
            help="let the program's sources and sinks use DIR too (repeatable); "
            "by default they stay inside the program's directory",
        )
        sub.add_argument("--opt-level", type=int, default=2, choices=(0, 1, 2))
        sub.add_argument(
            "--fixpoint-strategy", default="auto", choices=("naive", "semi_naive", "auto")
        )
        sub.add_argument("--max-iters", type=int, default=None)

    run = commands.add_parser("run", help="run a program and print or write its exports")
    common(run)
    run.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    run.add_argument("--out", help="write the exports to a file (.npy/.npz/.json/...)")
    run.add_argument("--explain", action="store_true", help="print what each equation became")

    compile_ = commands.add_parser("compile", help="print a program at one level of the compiler")
    common(compile_)
    compile_.add_argument("--emit", choices=EMIT_CHOICES, default="fuse")
    compile_.add_argument(
        "--print-pipeline",
        action="store_true",
        help="print the pass pipeline (in --pass-pipeline syntax) instead of IR",
    )
    compile_.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    return parser


def _config(args: argparse.Namespace) -> ExecutionConfig:
    settings: dict[str, object] = {
        "opt_level": args.opt_level,
        "fixpoint_strategy": args.fixpoint_strategy,
    }
    if args.max_iters is not None:
        settings["max_iters"] = args.max_iters
    return ExecutionConfig(**settings)  # type: ignore[arg-type]


def _inputs(bindings: Sequence[str], runner) -> dict[str, np.ndarray]:
    inputs = {}
    for binding in bindings:
        name, separator, path = binding.partition("=")
        if not separator or not name or not path:
            raise FuseError(f"--input expects NAME=FILE, got '{binding}'")
        inputs[name] = runner.io.load(name, str(Path(path).resolve()))
    return inputs


def _print_exports(exports: dict[str, np.ndarray]) -> None:
    from fuse.runtime.runner import to_host

    if len(exports) == 1:
        [(name, value)] = exports.items()
        print(f"{name} =")
        print(np.array2string(to_host(value), threshold=200))
        return
    print(json.dumps({name: to_host(v).tolist() for name, v in exports.items()}))


def _write_exports(path: str, exports: dict[str, np.ndarray], runner) -> None:
    """One export: written in the file's format; several: an `.npz` with a
    key per export, or a `.json` map."""
    from fuse.runtime.io import SinkSpec, atomic_write
    from fuse.runtime.runner import to_host

    exports = {name: to_host(value) for name, value in exports.items()}
    target = Path(path).resolve()
    if len(exports) == 1:
        [(name, value)] = exports.items()
        runner.io.write(target, value, key=name)
    elif target.suffix == ".npz":
        runner.io.write_all(SinkSpec(str(target), v, key=n) for n, v in exports.items())
    elif target.suffix == ".json":
        text = json.dumps({n: v.tolist() for n, v in exports.items()})
        atomic_write(target, lambda stream: stream.write(text.encode()))
    else:
        raise FuseError(f"--out {path}: several exports need an .npz or .json file")


def _emit_ir(module) -> None:
    """Prints IR exactly as `fuse-opt` does (xDSL's MLIR target), so the two
    tools' outputs compare equal."""
    from xdsl.context import Context
    from xdsl.targets.mlir import MLIRTarget

    MLIRTarget().emit(Context(), module, sys.stdout)


def _print_warnings(program: Program) -> None:
    for warning in program.warnings:
        print(warning.render(), file=sys.stderr)


def command_run(args: argparse.Namespace) -> None:
    from fuse.program import Program
    from fuse.runtime.answers import format_answer, query_outputs
    from fuse.runtime.runner import to_host

    config = _config(args)
    if args.explain:
        config = dataclasses.replace(config, profile=True)
    program = Program.from_file(args.program)
    _print_warnings(program)
    runner = program.compile(backend=args.backend, config=config, allow_paths=args.allow_path)
    exports = runner.run(_inputs(args.input, runner))
    answers = query_outputs(runner.program.ast, exports)
    if args.out:
        _write_exports(args.out, exports, runner)
    else:
        answered = {name for _, name in answers}
        printed = {name: value for name, value in exports.items() if name not in answered}
        if printed:
            _print_exports(printed)
        for query, name in answers:
            print(format_answer(query, to_host(exports[name]), runner.program.ast.domains))
    if args.explain:
        print(runner.explain())


def command_compile(args: argparse.Namespace) -> None:
    from fuse.frontend import dump_ast
    from fuse.pipeline import full_pipeline, pipeline_text
    from fuse.program import Program

    config = _config(args)
    if args.print_pipeline:
        print(pipeline_text(full_pipeline(config)))
        return
    program = Program.from_file(args.program)
    _print_warnings(program)
    if args.emit == "ast":
        print(dump_ast(program.ast))
        return
    if args.emit == "fuse":
        _emit_ir(program.declarative_module())
        return
    runner = program.compile(backend=args.backend, config=config, allow_paths=args.allow_path)
    shapes = runner.known_shapes(_inputs(args.input, runner))
    module, _, _ = runner.specialized_module(shapes)
    if args.emit == "dataflow":
        _emit_ir(module)
    elif args.emit == "stablehlo":
        from fuse.lowering.jax.backend import stablehlo_text

        sys.stdout.write(stablehlo_text(module, config))
    else:
        from fuse.lowering.torch import fx_code

        print(fx_code(module, config))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            command_run(args)
        else:
            command_compile(args)
    except FuseError as error:
        print(error.render(), file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"fuse: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
