"""Compile time is linear in program size (issue 11).

Wall-clock limits would be flaky on a shared machine, so these tests count
the work that used to grow quadratically; `bench/frontend.py` measures the
seconds.
"""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.utils.exceptions import DiagnosticException

from bench.frontend import generated_program
from fuse import frontend
from fuse.collector import cyclic_gc_paused
from fuse.config import ExecutionConfig
from fuse.dialects.fuse import ProgramOp, RuleOp, SinkOp, TensorOp
from fuse.errors import SourceText
from fuse.lowering.ir_builder import IRBuilder, build_module
from fuse.passes import canonicalize_projections, infer_shapes
from fuse.passes.expr_tree import body_ops
from fuse.passes.index_ranges import ranged_tensors
from fuse.passes.infer_shapes import InferShapesPass
from fuse.pipeline import full_pipeline, run_passes
from fuse.runtime import domains
from tests.ir_helpers import parse_module

INDEX_NAMES = "ijk"


def _load(tensor: str, indices: tuple[str, ...], number: int) -> str:
    names = ", ".join(dict.fromkeys(indices))
    return f"%{number} = fuse.load @{tensor}[{', '.join(indices)}] : !fuse.expr<{names}>"


def _rule(tensor: str, head: tuple[str, ...], reads: list[tuple[str, tuple[str, ...]]]) -> str:
    """A rule whose body multiplies its reads (no projections: shape
    inference does not need them)."""
    lines = [_load(name, indices, n) for n, (name, indices) in enumerate(reads)]
    names: dict[str, None] = dict.fromkeys(reads[0][1])
    value = 0
    for n, (_, indices) in enumerate(reads[1:], start=1):
        before = ", ".join(names)
        names |= dict.fromkeys(indices)
        value = len(lines)
        lines.append(
            f"%{value} = fuse.arith mul %{value - 1 if n > 1 else 0}, %{n} : "
            f"!fuse.expr<{before}>, !fuse.expr<{', '.join(dict.fromkeys(indices))}>"
        )
    lines.append(f"fuse.yield %{value} : !fuse.expr<{', '.join(names)}>")
    body = "\n    ".join(lines)
    return f"  fuse.rule @{tensor}[{', '.join(head)}] sum {{\n    {body}\n  }}"


def _program(declarations: list[str], rules: list[str]) -> str:
    return "fuse.program {\n" + "\n".join([*declarations, *rules]) + "\n}"


def _declaration(tensor: str, rank: int, shape: tuple[int, ...] | None) -> str:
    names = ", ".join(INDEX_NAMES[:rank])
    if shape is None:
        dims = "x".join("?" for _ in range(rank))
        return f"  fuse.tensor @{tensor}[{names}] : tensor<{dims}xf32>"
    return f"  fuse.tensor @{tensor}[{names}] input : tensor<{'x'.join(map(str, shape))}xf32>"


def _program_op(text: str) -> ProgramOp:
    return next(op for op in parse_module(text).walk() if isinstance(op, ProgramOp))


def _shapes_or_error(program: ProgramOp, infer) -> object:
    try:
        infer(program)
    except DiagnosticException as error:
        return str(error)
    return {
        op.tensor_name: tuple(op.tensor_type.get_shape())
        for op in program.body.block.ops
        if isinstance(op, TensorOp)
    }


def _sweep_until_stable(program: ProgramOp) -> None:
    """What `fuse-infer-shapes` did before it kept a worklist: run every
    rule, then every sink, again and again until a whole sweep grows no
    shape (quadratic on a chain written last equation first)."""
    ops = list(program.body.block.ops)
    rules = [op for op in ops if isinstance(op, RuleOp)]
    sinks = [op for op in ops if isinstance(op, SinkOp)]
    ranged = ranged_tensors(program)
    while any(
        [
            *(bool(infer_shapes._propagate_rule(r, program, ranged)) for r in rules),
            *(bool(infer_shapes._propagate_sink(s, program)) for s in sinks),
        ]
    ):
        pass


CHAIN = 120


def _backward_chain() -> ProgramOp:
    """`T1 = T0`, ..., `Tn = Tn-1` written last equation first, `T0` of
    size 3: what is known about `T0` takes one sweep per equation to reach
    `Tn`."""
    declarations = [_declaration("T0", 1, (3,))]
    declarations += [_declaration(f"T{n}", 1, None) for n in range(1, CHAIN + 1)]
    rules = [_rule(f"T{n}", ("i",), [(f"T{n - 1}", ("i",))]) for n in range(CHAIN, 0, -1)]
    return _program_op(_program(declarations, rules))


def test_shape_inference_runs_each_rule_a_bounded_number_of_times(monkeypatch) -> None:
    program = _backward_chain()
    runs = 0
    propagate = infer_shapes._propagate_rule

    def counting(rule: RuleOp, program: ProgramOp, ranged: set[str]) -> list[str]:
        nonlocal runs
        runs += 1
        return propagate(rule, program, ranged)

    monkeypatch.setattr(infer_shapes, "_propagate_rule", counting)
    infer_shapes.infer_program_shapes(program)
    assert runs <= 2 * CHAIN
    shapes = _shapes_or_error(program, lambda _: None)
    assert shapes == {f"T{n}": (3,) for n in range(CHAIN + 1)}


def test_domain_propagation_runs_each_rule_a_bounded_number_of_times(monkeypatch) -> None:
    """Symbol domains flow like sizes, on the same schedule."""
    runs = 0
    rule_domains = domains._rule_domains

    def counting(op: RuleOp | SinkOp, known: dict) -> dict[str, str]:
        nonlocal runs
        runs += 1
        return rule_domains(op, known)

    monkeypatch.setattr(domains, "_rule_domains", counting)
    found = domains.propagate_domains(_backward_chain(), {("T0", 0): "entity"})
    assert found == {(f"T{n}", 0): "entity" for n in range(CHAIN + 1)}
    assert runs <= 2 * CHAIN


@st.composite
def _random_programs(draw: st.DrawFn) -> str:
    """A few tensors of rank 1 or 2, some with known sizes, and rules in any
    order reading any of them with any index pattern (so conflicts, and
    sizes flowing forwards and backwards, all occur)."""
    count = draw(st.integers(2, 5))
    ranks = [draw(st.integers(1, 2)) for _ in range(count)]
    declarations = []
    for n, rank in enumerate(ranks):
        known = draw(st.booleans())
        shape = tuple(draw(st.sampled_from((2, 3))) for _ in range(rank)) if known else None
        declarations.append(_declaration(f"T{n}", rank, shape))
    indices = st.sampled_from(INDEX_NAMES)
    rules = []
    for _ in range(draw(st.integers(1, 6))):
        target = draw(st.integers(0, count - 1))
        head = tuple(draw(indices) for _ in range(ranks[target]))
        reads = []
        for _ in range(draw(st.integers(1, 3))):
            read = draw(st.integers(0, count - 1))
            reads.append((f"T{read}", tuple(draw(indices) for _ in range(ranks[read]))))
        rules.append(_rule(f"T{target}", head, reads))
    return _program(declarations, rules)


@settings(max_examples=150, deadline=None)
@given(_random_programs())
def test_shape_inference_agrees_with_sweeping_until_stable(text: str) -> None:
    """Same shapes, or the same first conflict, as the sweeps."""
    expected = _shapes_or_error(_program_op(text), _sweep_until_stable)
    assert _shapes_or_error(_program_op(text), infer_shapes.infer_program_shapes) == expected


def test_compiling_pauses_the_cyclic_collector(monkeypatch) -> None:
    """Every collection during a compile re-walks all the IR built so far
    (a quarter of a 2,000-equation compile, growing with the program), so
    parsing, building and every pass run with the collector paused."""
    enabled: dict[str, bool] = {}

    def recording(name: str, step):
        def wrapped(*args, **kwargs):
            enabled[name] = gc.isenabled()
            return step(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(frontend, "parse_partial", recording("parse", frontend.parse_partial))
    monkeypatch.setattr(IRBuilder, "build", recording("build", IRBuilder.build))
    monkeypatch.setattr(InferShapesPass, "apply", recording("pass", InferShapesPass.apply))
    text = generated_program(20)
    module = build_module(frontend.load(text, "generated.fuse"), SourceText(text, "g.fuse"))
    run_passes(module, full_pipeline(ExecutionConfig()))
    assert enabled == {"parse": False, "build": False, "pass": False}
    assert gc.isenabled()


def test_pausing_the_collector_nests_and_keeps_a_disabled_one_disabled() -> None:
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_canonicalization_moves_the_ops_it_would_recreate_unchanged() -> None:
    """Creating an xDSL op costs far more than moving one: only the ops a
    projection or a rename changes are re-created (`lit_tests/passes`
    checks the printed result is what re-creating everything gave)."""
    text = "Y[i, j] = A[i, k] B[k, j] + C[i, j]\n"
    module = build_module(frontend.load(text, "y.fuse"), SourceText(text, "y.fuse"))
    [rule] = [op for op in module.walk() if isinstance(op, RuleOp)]
    before = list(rule.body.block.ops)
    run_passes(module, ["fuse-canonicalize-projections"])
    [rule] = [op for op in module.walk() if isinstance(op, RuleOp)]
    after = list(rule.body.block.ops)
    kept = [op.name for op in after if any(op is old for old in before)]
    created = [op.name for op in after if not any(op is old for old in before)]
    # The product keeps its loads and itself; `k` is summed over it, which
    # changes the sum's operand type, so the sum and the yield are new.
    assert kept == ["fuse.load", "fuse.load", "fuse.arith", "fuse.load"]
    assert created == ["fuse.project", "fuse.arith", "fuse.yield"]


def test_body_ops_lists_what_walk_visits_in_its_order() -> None:
    """`body_ops` replaces `Region.walk` on rule bodies (half the time);
    on regions nested in regions (a fixpoint in a function) it must still
    list what the walk visits, in the same order."""
    text = 'E(x, y) = "e.tsv"\nP(x, y) = E(x, y)\nP(x, z) = P(x, y) E(y, z)\nexport P\n'
    module = build_module(frontend.load(text, "p.fuse"), SourceText(text, "p.fuse"))
    assert body_ops(module.body) == list(module.body.walk())
    run_passes(module, full_pipeline(ExecutionConfig()))
    assert any(op.regions for op in body_ops(module.body) if op is not module)
    assert body_ops(module.body) == list(module.body.walk())


def _rule_body(loads: list[str], arith: str) -> str:
    body = "\n    ".join([*loads, arith, "fuse.yield %2 : !fuse.expr<i>"])
    return (
        "fuse.program {\n  fuse.tensor @A[i] input : tensor<?xf32>\n"
        "  fuse.tensor @B[i] input : tensor<?xf32>\n  fuse.tensor @Y[i] : tensor<?xf32>\n"
        f"  fuse.rule @Y[i] sum {{\n    {body}\n  }}\n}}"
    )


_LOAD_A = "%0 = fuse.load @A[i] : !fuse.expr<i>"
_LOAD_B = "%1 = fuse.load @B[i] : !fuse.expr<i>"
_ADD = "%2 = fuse.arith add {} : !fuse.expr<i>, !fuse.expr<i>"

# Rules canonicalization must change although they need no projection: a
# body out of operand order, and a value used twice (the tree duplicates it).
_NOT_AS_WRITTEN = [
    _rule_body([_LOAD_A, _LOAD_B], _ADD.format("%1, %0")),
    _rule_body([_LOAD_A, "%1 = fuse.negate %0 : !fuse.expr<i>"], _ADD.format("%0, %1")),
]


def _canonical_text(module) -> str:
    run_passes(module, ["fuse-canonicalize-projections"])
    return str(module)


@pytest.mark.parametrize("text", _NOT_AS_WRITTEN)
def test_canonicalization_keeps_only_rules_it_would_rebuild_as_they_are(
    text: str, monkeypatch
) -> None:
    """Rules already canonical are kept (a large program's rules mostly
    are, and rebuilding them was most of the pass); everything else prints
    exactly what rebuilding every rule gives."""
    kept = _canonical_text(parse_module(text))
    monkeypatch.setattr(canonicalize_projections, "_rebuilds_as_is", lambda *_: False)
    assert kept == _canonical_text(parse_module(text))


def test_canonicalization_keeps_a_canonical_rule_and_prints_the_same() -> None:
    program = generated_program(12) + "Z(x, y) = E(y, x)\nZ(a, b) += T3[a, b]\nexport Z\n"
    module = build_module(frontend.load(program, "g.fuse"), SourceText(program, "g.fuse"))
    before = [op for op in module.walk() if isinstance(op, RuleOp)]
    rebuilt = build_module(frontend.load(program, "g.fuse"), SourceText(program, "g.fuse"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(canonicalize_projections, "_rebuilds_as_is", lambda *_: False)
        expected = _canonical_text(rebuilt)
    assert _canonical_text(module) == expected
    after = [op for op in module.walk() if isinstance(op, RuleOp)]
    assert sum(any(op is old for old in before) for op in after) >= 6
