"""`fuse run`, `fuse compile`, `fuse explain`, `fuse export` and `fuse repl`
(also `python -m fuse ...`).

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

    def shapes(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--shape",
            action="append",
            default=[],
            metavar="NAME=SIZES",
            help="the size of a runtime input without its data, e.g. A=6x40 (repeatable)",
        )

    run = commands.add_parser("run", help="run a program and print or write its exports")
    common(run)
    run.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    run.add_argument("--out", help="write the exports to a file (.npy/.npz/.json/...)")
    run.add_argument("--explain", action="store_true", help="print what each equation became")
    run.add_argument(
        "--quiet", action="store_true", help="no progress bars for long fixpoints on a terminal"
    )
    run.add_argument(
        "--plot",
        metavar="FILE",
        help="plot how each fixpoint converged (elements changed per iteration; numpy backend)",
    )

    compile_ = commands.add_parser("compile", help="print a program at one level of the compiler")
    common(compile_)
    compile_.add_argument("--emit", choices=EMIT_CHOICES, default="fuse")
    compile_.add_argument(
        "--print-pipeline",
        action="store_true",
        help="print the pass pipeline (in --pass-pipeline syntax) instead of IR",
    )
    compile_.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    compile_.add_argument(
        "--grad",
        type=_gradient_request,
        metavar="LOSS:W1,W2",
        help="also compute the gradients of the scalar LOSS with respect to the inputs "
        "W1, W2 (fuse-autodiff; shown from --emit dataflow on)",
    )
    shapes(compile_)

    explain = commands.add_parser(
        "explain", help="print what each equation became; draw the plan with --graph"
    )
    common(explain)
    shapes(explain)
    explain.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    explain.add_argument("--graph", metavar="FILE.svg", help="draw the dataflow graph as SVG")
    explain.add_argument(
        "--run",
        action="store_true",
        help="run the program first (its --input files) and show per-op times",
    )

    train = commands.add_parser("train", help="train parameters of a program by gradient descent")
    common(train)
    train.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    train.add_argument("--loss", required=True, help="the scalar tensor to minimize")
    train.add_argument(
        "--params",
        required=True,
        help="comma-separated tensors to train; initial values from their sources or --input files",
    )
    train.add_argument(
        "--data", action="append", default=[], metavar="NAME=FILE", help="a data tensor"
    )
    train.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "adamw"))
    train.add_argument("--lr", type=float, default=1e-3)
    length = train.add_mutually_exclusive_group(required=True)
    length.add_argument("--epochs", type=int)
    length.add_argument("--steps", type=int)
    train.add_argument("--batch-index", help="the index that numbers the examples")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--checkpoint", help="a safetensors file to save progress to")
    train.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--out", required=True, help="the trained parameters (.safetensors)")
    train.add_argument("--plot", metavar="FILE", help="plot the loss per step (.png/.svg/.pdf)")

    export = commands.add_parser(
        "export", help="write the program as a jax, StableHLO or torch artifact"
    )
    common(export)
    shapes(export)
    export.add_argument("--format", required=True, choices=("jax", "stablehlo", "torch"))
    export.add_argument("--out", required=True, help="the artifact file (.pt2 for torch)")
    export.add_argument(
        "--emit",
        action="store_true",
        help="also print the artifact's StableHLO as text (jax and stablehlo formats)",
    )
    export.add_argument(
        "--vjp-order",
        type=int,
        default=0,
        metavar="N",
        help="jax format: orders of derivatives the artifact carries (1: jax.grad works on it)",
    )
    repl = commands.add_parser(
        "repl", help="type statements and queries one at a time (docs/repl.md)"
    )
    repl.add_argument("program", nargs="?", help="a .fuse program to start from")
    repl.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    return parser


def _gradient_request(text: str):
    """`Loss:W1,W2` -> GradientRequest("Loss", ("W1", "W2"))."""
    from fuse.pipeline import GradientRequest

    loss, _, wrt = text.partition(":")
    names = tuple(n.strip() for n in wrt.split(",") if n.strip())
    if not loss.strip() or not names:
        raise argparse.ArgumentTypeError(
            f"expected LOSS:W1,W2 (a loss and the inputs to differentiate by), got {text!r}"
        )
    return GradientRequest(loss.strip(), names)


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

    if args.plot and args.backend != "numpy":
        raise FuseError("--plot records convergence on the numpy backend: add --backend numpy")
    config = dataclasses.replace(
        _config(args), profile=args.explain or bool(args.plot), progress=not args.quiet
    )
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
    if args.plot:
        from fuse.runtime.plots import plot_convergence

        plot_convergence(runner.last_plan.executable.fixpoint_convergence, args.plot)


def command_compile(args: argparse.Namespace) -> None:
    from fuse.frontend import dump_ast
    from fuse.pipeline import full_pipeline, pipeline_text
    from fuse.program import Program

    config = _config(args)
    if args.print_pipeline:
        print(pipeline_text(full_pipeline(config, args.grad)))
        return
    program = Program.from_file(args.program)
    if args.grad is not None and args.emit in ("ast", "fuse"):
        raise ValueError(f"--grad needs --emit dataflow or later, not --emit {args.emit}")
    _print_warnings(program)
    if args.emit == "ast":
        print(dump_ast(program.ast))
        return
    if args.emit == "fuse":
        _emit_ir(program.declarative_module())
        return
    runner = program.compile(
        backend=args.backend,
        config=config,
        allow_paths=args.allow_path,
        input_shapes=_shapes(args.shape),
    )
    shapes = runner.known_shapes(_inputs(args.input, runner))
    if args.emit == "stablehlo" and any(d.name not in shapes for d in runner.declarations):
        # Inputs without sizes: the StableHLO has dynamic dimensions.
        from fuse.runtime.export import symbolic_plan

        plan, _ = symbolic_plan(runner.for_backend("jax"), shapes, args.grad)
        sys.stdout.write(plan.executable.stablehlo_text)
        return
    module, _, _ = runner.specialized_module(shapes, args.grad)
    if args.emit == "dataflow":
        _emit_ir(module)
    elif args.emit == "stablehlo":
        from fuse.lowering.jax.backend import stablehlo_text

        sys.stdout.write(stablehlo_text(module, config))
    else:
        from fuse.lowering.torch import fx_code

        print(fx_code(module, config))


def _shapes(bindings: Sequence[str]) -> dict[str, tuple[int, ...]]:
    from fuse.runtime.export import parse_shape

    return dict(parse_shape(binding) for binding in bindings)


def command_export(args: argparse.Namespace) -> None:
    from fuse.program import Program
    from fuse.runtime.export import artifact_text

    if args.format == "torch" and not args.out.endswith(".pt2"):
        raise FuseError(f"--out {args.out}: torch.export.load reads .pt2 files; name it *.pt2")
    runner = Program.from_file(args.program).compile(
        backend="jax" if args.format != "torch" else "torch",
        config=_config(args),
        allow_paths=args.allow_path,
    )
    shapes = {
        **{name: np.shape(value) for name, value in _inputs(args.input, runner).items()},
        **_shapes(args.shape),
    }
    if args.vjp_order and args.format != "jax":
        raise FuseError("--vjp-order is for --format jax (the other artifacts carry no VJP)")
    artifact = runner.export(
        args.format, out=args.out, input_shapes=shapes, vjp_order=args.vjp_order
    )
    if args.emit:
        if args.format == "torch":
            raise FuseError("--emit prints StableHLO: use it with --format jax or stablehlo")
        sys.stdout.write(artifact_text(args.format, artifact))


def command_explain(args: argparse.Namespace) -> None:
    from fuse.program import Program

    if args.graph and not args.graph.endswith(".svg"):
        raise FuseError(f"--graph {args.graph}: the picture is SVG; name it *.svg")
    config = dataclasses.replace(_config(args), profile=args.run)
    runner = Program.from_file(args.program).compile(
        backend=args.backend,
        config=config,
        allow_paths=args.allow_path,
        input_shapes=_shapes(args.shape),
    )
    inputs = _inputs(args.input, runner)
    if args.run:
        runner.run(inputs)
    else:
        runner.plan_for_shapes(runner.known_shapes(inputs))
    report = runner.explain()
    if args.graph:  # before printing: a closed stdout must not cost the picture
        report.to_svg(Path(args.graph).resolve())
    print(report)


def command_train(args: argparse.Namespace) -> None:
    from safetensors.numpy import save

    from fuse.program import Program
    from fuse.runtime.io import atomic_write

    if not args.out.endswith(".safetensors"):
        raise FuseError(f"--out {args.out}: trained parameters are written as *.safetensors")
    runner = Program.from_file(args.program).compile(
        backend=args.backend, config=_config(args), allow_paths=args.allow_path
    )
    names = [name.strip() for name in args.params.split(",") if name.strip()]
    given = _inputs(args.input, runner)
    stored = runner.load_sources(set(given), require_all=False)
    initial = {}
    for name in names:
        if name not in given and name not in stored:
            raise FuseError(
                f"--params {name}: no initial value; give it a source in the program "
                f"or --input {name}=FILE"
            )
        initial[name] = given.get(name, stored.get(name))
    data = _inputs(args.data, runner)
    data |= {name: value for name, value in given.items() if name not in initial}
    result = runner.fit(
        args.loss,
        initial,
        data,
        batch_index=args.batch_index,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        steps=args.steps,
        epochs=args.epochs,
        seed=args.seed,
        checkpoint=args.checkpoint,
        resume=args.resume,
        progress=not args.quiet,
    )
    if args.plot:
        from fuse.runtime.plots import plot_losses

        plot_losses(result.losses, args.plot)
    payload = save({name: value for name, value in result.params.items()})
    atomic_write(Path(args.out).resolve(), lambda stream: stream.write(payload))
    losses = result.losses
    print(
        f"trained {', '.join(names)} for {len(losses)} steps: loss {losses[0]:.6g} -> "
        f"{losses[-1]:.6g}; parameters in {args.out}"
    )


def command_repl(args: argparse.Namespace) -> None:
    from fuse.frontend import read_source
    from fuse.repl import Session
    from fuse.repl.terminal import run

    session = Session(backend=args.backend)
    if args.program:  # a bad file ends here, with status 1
        answers = session.add(read_source(args.program), args.program)
        if answers:
            print(answers)
    run(session)


COMMANDS = {
    "run": command_run,
    "train": command_train,
    "compile": command_compile,
    "explain": command_explain,
    "export": command_export,
    "repl": command_repl,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except FuseError as error:
        print(error.render(), file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"fuse: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `fuse ... | head` closed the pipe: not an error of ours
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
