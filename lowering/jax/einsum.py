"""`fuse.einsum` as StableHLO: diagonals, pairwise `dot_general`, reductions.

* A letter repeated inside one operand (`"ii"`) selects the diagonal: the
  entries off it are zeroed with an iota mask and summed away, one exact
  addition of a single non-zero per position.
* `sum` and `mean`: the operands are contracted pairwise, in the op's `path`
  (opt_einsum's convention: each step names operands of the current list,
  which are removed, the result appended) or else left to right. Before each
  step, a letter that no other remaining operand and not the output needs is
  summed away at once, so no intermediate is larger than it must be. A step
  is one `dot_general`: letters both sides share and something later needs
  are batch dimensions, the other shared letters are contracted. `mean`
  divides the sum by the number of projected positions.
* `max`: a product does not distribute over max when a factor is negative
  (max_j(a_j c) is c·min_j(a_j) for c < 0), so every operand is broadcast to
  all letters, multiplied, and reduced with max once.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from xdsl.ir import SSAValue
from xdsl_jax.dialects import stablehlo as hlo

from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.lowering.subscripts import align

from .hlo_builder import HloBuilder, element_type_of, shape_of

Term = tuple[str, SSAValue]  # (letters, value)


def take_diagonals(b: HloBuilder, letters: str, value: SSAValue) -> Term:
    """Removes repeated letters, keeping the entries where they agree."""
    while (repeated := next((c for c in letters if letters.count(c) > 1), None)) is not None:
        first = letters.index(repeated)
        second = letters.index(repeated, first + 1)
        shape = shape_of(value)
        on_diagonal = b.compare("EQ", b.iota(shape, first), b.iota(shape, second))
        zeros = b.full(0.0, shape, element_type_of(value))
        value = b.reduce(b.select(on_diagonal, value, zeros), [second], "add")
        letters = letters[:second] + letters[second + 1 :]
    return letters, value


def align_to(b: HloBuilder, term: Term, letters: str, shape: Sequence[int]) -> SSAValue:
    """Lays `term` out along `letters` (of `shape`), broadcasting missing ones."""
    own, value = term
    plan = align(own, letters)
    value = b.transpose(value, plan.permutation)
    positions = [d for d, slot in enumerate(plan.shape_template) if slot is None]
    return b.broadcast(value, shape, positions)


def lower_einsum(
    b: HloBuilder,
    subscripts: str,
    kind: str,
    operands: Sequence[SSAValue],
    path: Sequence[Sequence[int]] | None,
) -> SSAValue:
    inputs, output = parse_subscripts(subscripts)
    if not inputs:
        raise ValueError(f"fuse.einsum '{subscripts}' has no operands to lower")
    terms = [take_diagonals(b, s, v) for s, v in zip(inputs, operands, strict=True)]
    sizes = {c: n for letters, v in terms for c, n in zip(letters, shape_of(v), strict=True)}
    projected = [c for c in dict.fromkeys("".join(inputs)) if c not in output]
    if kind == "max":
        return _max_of_product(b, terms, output, projected, sizes)
    result = _contract(b, terms, output, path)
    if kind == "mean" and projected:
        count = prod(sizes[c] for c in projected)
        result = b.binary(hlo.DivideOp, result, b.full(float(count), shape_of(result)))
    return result


def _max_of_product(
    b: HloBuilder, terms: list[Term], output: str, projected: list[str], sizes: dict[str, int]
) -> SSAValue:
    letters = output + "".join(projected)
    shape = [sizes[c] for c in letters]
    product = align_to(b, terms[0], letters, shape)
    for term in terms[1:]:
        product = b.binary(hlo.MultiplyOp, product, align_to(b, term, letters, shape))
    return b.reduce(product, list(range(len(output), len(letters))), "max")


def _contract(
    b: HloBuilder, terms: list[Term], output: str, path: Sequence[Sequence[int]] | None
) -> SSAValue:
    remaining = _project_unneeded(b, list(terms), output)
    for step in path or ():
        if any(not 0 <= i < len(remaining) for i in step) or len(set(step)) != len(step):
            raise ValueError(
                f"fuse.einsum path step {list(step)} does not fit {len(remaining)} operands"
            )
        group = [remaining[i] for i in step]
        others = [t for i, t in enumerate(remaining) if i not in step]
        while len(group) > 1:
            group = [_pair(b, group[0], group[1], output, group[2:] + others), *group[2:]]
        remaining = _project_unneeded(b, [*others, group[0]], output)
    while len(remaining) > 1:
        first = _pair(b, remaining[0], remaining[1], output, remaining[2:])
        remaining = _project_unneeded(b, [first, *remaining[2:]], output)
    letters, value = remaining[0]
    return b.transpose(value, [letters.index(c) for c in output])


def _project_unneeded(b: HloBuilder, terms: list[Term], output: str) -> list[Term]:
    """Sums away, in each term, the letters that neither the output nor any
    other term needs."""
    projected_terms = []
    for n, (letters, value) in enumerate(terms):
        needed = set(output).union(*(t[0] for m, t in enumerate(terms) if m != n))
        drop = [d for d, c in enumerate(letters) if c not in needed]
        kept = "".join(c for c in letters if c in needed)
        projected_terms.append((kept, b.reduce_sum(value, drop) if drop else value))
    return projected_terms


def _pair(b: HloBuilder, lhs: Term, rhs: Term, output: str, others: Sequence[Term]) -> Term:
    """One `dot_general`: shared letters still needed are batch dimensions,
    the other shared letters are contracted."""
    (a, lhs_value), (c, rhs_value) = lhs, rhs
    needed = set(output).union(*(t[0] for t in others))
    shared = [x for x in a if x in c]
    batch = [x for x in shared if x in needed]
    contracted = [x for x in shared if x not in needed]
    value = b.dot_general(
        lhs_value,
        rhs_value,
        ([a.index(x) for x in batch], [c.index(x) for x in batch]),
        ([a.index(x) for x in contracted], [c.index(x) for x in contracted]),
    )
    letters = (
        "".join(batch) + "".join(x for x in a if x not in c) + "".join(x for x in c if x not in a)
    )
    return letters, value
