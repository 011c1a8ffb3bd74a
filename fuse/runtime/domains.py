"""Which symbol table each dimension ranges over.

Relation and text sources put some tensor dimensions over a symbol table
(`entity`, `token`). Like sizes, these domains flow through rules by index
name: `Aunt(x, z) = Sister(x, y) Parent(y, z)` puts both of `Aunt`'s
dimensions over `entity`. Sinks use the result to write symbols back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from fuse.dialects.fuse import LoadOp, ProgramOp, RuleOp, SinkOp
from fuse.passes.expr_tree import names_of, yielded_value
from fuse.passes.sweep import sweep_until_stable

TensorDim = tuple[str, int]


def _accesses(op: RuleOp | SinkOp) -> list[tuple[str, tuple]]:
    """(tensor, indices) of the left-hand side and of every load."""
    accesses = [(op.tensor_name, op.indices.data)] if isinstance(op, RuleOp) else []
    accesses += [(o.tensor_name, o.indices.data) for o in op.body.walk() if isinstance(o, LoadOp)]
    return accesses


def _rule_domains(op: RuleOp | SinkOp, known: Mapping[TensorDim, str]) -> dict[str, str]:
    domains: dict[str, str] = {}
    for tensor, indices in _accesses(op):
        for k, index in enumerate(indices):
            domain = known.get((tensor, k))
            if isinstance(index, str) and domain is not None:
                domains.setdefault(index, domain)
    return domains


def propagate_domains(program: ProgramOp, known: Mapping[TensorDim, str]) -> dict[TensorDim, str]:
    """Domains of every tensor dimension derivable from `known`: within a
    rule an index has one domain, shared by every access that uses it. The
    first domain found wins, in the order of sweeping over the rules and
    sinks until nothing changes (`sweep_until_stable`)."""
    domains = dict(known)
    statements = [op for op in program.body.block.ops if isinstance(op, RuleOp | SinkOp)]
    accesses = [_accesses(statement) for statement in statements]

    def run(position: int) -> list[str]:
        local = _rule_domains(statements[position], domains)
        changed: list[str] = []
        for tensor, indices in accesses[position]:
            for k, index in enumerate(indices):
                if isinstance(index, str) and index in local and (tensor, k) not in domains:
                    domains[(tensor, k)] = local[index]
                    changed.append(tensor)
        return changed

    counts = [Counter(tensor for tensor, _ in statement) for statement in accesses]
    sweep_until_stable(counts, run)
    return domains


def sink_domains(
    program: ProgramOp, known: Mapping[TensorDim, str]
) -> list[tuple[str | None, ...]]:
    """Per sink, in program order, the domain of each of its dimensions."""
    domains = propagate_domains(program, known)
    result = []
    for sink in program.body.block.ops:
        if isinstance(sink, SinkOp):
            local = _rule_domains(sink, domains)
            result.append(tuple(local.get(n) for n in names_of(yielded_value(sink.body))))
    return result
