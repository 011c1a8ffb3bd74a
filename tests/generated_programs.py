"""Random Fuse programs and a reference evaluator that does not use Fuse.

A generated program lives in a small representation of its own (the
dataclasses below). `render` writes it as `.fuse` text for the compiler;
`evaluate` computes what it means with plain NumPy in float64, directly
from the semantics of DESIGN.md section 3. Nothing here imports `fuse`, so
a test comparing the two compares the compiler with an independent reading
of the language.

What the generator covers: index names shared across tensors (each name has
one random size 1-4), joins by juxtaposition and `*`, `+`/`-` sums, unary
minus, division by non-zero literals, powers, the elementwise builtins
`relu sig tanh exp abs`, projections with `=`, `max=` and `avg=`, several
equations for one left-hand side (`+=`, or `max=` again), chains of
equations (a tensor defined by one equation and read by a later one),
Boolean left-hand sides `P(x, y)`, `softmax` over a dotted left-hand-side
axis, integer constant indices `A[0, j]` and a recursive Boolean
transitive closure.

Where a projected index is placed: `evaluate` implements the whole rule of
DESIGN.md section 3 (steps 1-4, including powers and parenthesized sums).
By default `programs()` draws only programs on which that rule and the
earlier, simpler one ("every term of the innermost call argument holding
all occurrences is projected over itself") agree: an index the left-hand
side lacks then appears only in accesses that are plain factors of a
top-level term of the right-hand side or of a call argument, never under
unary minus, a power or a parenthesized sum; under `max=` only the first
term of each sum may hold one (`max` does not distribute over `+`).
`programs(full_projection_rule=True)` lifts that restriction (for `=`,
`+=` and `avg=` equations) to exercise steps 2-3 of the rule.

Numbers: inputs are uniform in [-1, 1] (Boolean relations are 0/1); `exp`
reads `tanh` of its argument so it never overflows. Alongside each value the
evaluator carries `bound`, a rough bound of the magnitudes that went into it,
from which a test derives an absolute tolerance suitable for fp32. Boolean
tensors pass their value through `step`; `Reference.ambiguous` says a value
was too close to 0 for fp32 to decide the step, and a test discards such a
program.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

# --- the program representation --------------------------------------------------

Index = str | int  # an index name, or an integer constant index


@dataclass(frozen=True)
class Access:
    tensor: str
    indices: tuple[Index, ...]
    parenthesized: bool = False  # written `R(x, y)`, which reads the same as `R[x, y]`


@dataclass(frozen=True)
class Literal:
    value: float  # always > 0; a negative number is `Negate(Literal)`


@dataclass(frozen=True)
class Negate:
    operand: Expr


@dataclass(frozen=True)
class Product:
    """`factors[0] op[1] factors[1] ...`; an operator is `""` (juxtaposition),
    `"*"` or `"/"` (only ever followed by a `Literal`)."""

    factors: tuple[Expr, ...]
    operators: tuple[str, ...]  # one per factor after the first


@dataclass(frozen=True)
class Sum:
    """`terms[0] ± terms[1] ...`; `signs[i]` is +1 or -1, `signs[0]` is +1."""

    terms: tuple[Expr, ...]
    signs: tuple[int, ...]


@dataclass(frozen=True)
class Power:
    base: Expr
    exponent: int


@dataclass(frozen=True)
class Call:
    function: str  # relu sig tanh exp abs softmax
    argument: Expr


Expr = Access | Literal | Negate | Product | Sum | Power | Call


@dataclass(frozen=True)
class Equation:
    tensor: str
    lhs: tuple[str, ...]
    operator: str  # "=" "+=" "max=" "avg="
    rhs: Expr
    boolean: bool = False  # written `T(i, j)`: the combined value goes through step
    axis: str | None = None  # the dotted LHS index (the RHS is a softmax call)


@dataclass
class GeneratedProgram:
    sizes: dict[str, int]  # every index name's size
    inputs: dict[str, np.ndarray]  # runtime inputs (float32)
    equations: list[Equation] = field(default_factory=list)

    def text(self) -> str:
        return render(self)

    def runtime_inputs(self) -> dict[str, np.ndarray]:
        """The inputs the program reads (Fuse refuses an input it does not know)."""
        read = set().union(*(reads(e.rhs) for e in self.equations))
        return {name: array for name, array in self.inputs.items() if name in read}


# --- rendering ---------------------------------------------------------------------

ATOMS = (Access, Literal, Call)


def render_literal(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_expr(expr: Expr) -> str:
    """Fuse text whose parse tree is `expr`: parentheses exactly where the
    grammar needs them (a sum or product inside a product, a base that is not
    an atom, a negation that is not the first factor)."""
    match expr:
        case Access(tensor, indices, parenthesized):
            if not indices:
                return tensor
            listed = ", ".join(str(i) for i in indices)
            return f"{tensor}({listed})" if parenthesized else f"{tensor}[{listed}]"
        case Literal(value):
            return render_literal(value)
        case Call(function, argument):
            return f"{function}({render_expr(argument)})"
        case Negate(operand):
            inner = render_expr(operand)
            return f"-{inner}" if isinstance(operand, (*ATOMS, Power)) else f"-({inner})"
        case Power(base, exponent):
            inner = render_expr(base)
            return f"{inner if isinstance(base, ATOMS) else f'({inner})'}^{exponent}"
        case Product(factors, operators):
            parts = [render_factor(factors[0], first=True)]
            for operator, factor in zip(operators, factors[1:], strict=True):
                parts.append(f" {operator} " if operator else " ")
                parts.append(render_factor(factor, first=False))
            return "".join(parts)
        case Sum(terms, signs):
            parts = [render_expr(terms[0])]
            for sign, term in zip(signs[1:], terms[1:], strict=True):
                parts.append(" + " if sign > 0 else " - ")
                parts.append(
                    render_expr(term) if not isinstance(term, Sum) else f"({render_expr(term)})"
                )
            return "".join(parts)
    raise TypeError(expr)


def render_factor(factor: Expr, first: bool) -> str:
    text = render_expr(factor)
    if isinstance(factor, (Sum, Product)) or (isinstance(factor, Negate) and not first):
        return f"({text})"
    return text


def render_equation(equation: Equation) -> str:
    names = [f"{i}." if i == equation.axis else i for i in equation.lhs]
    if equation.boolean:
        lhs = f"{equation.tensor}({', '.join(names)})"
    else:
        lhs = f"{equation.tensor}[{', '.join(names)}]" if names else equation.tensor
    return f"{lhs} {equation.operator} {render_expr(equation.rhs)}"


def render(program: GeneratedProgram) -> str:
    return "".join(render_equation(e) + "\n" for e in program.equations)


# --- the reference evaluator -------------------------------------------------------


@dataclass(frozen=True)
class Labeled:
    """A float64 array whose axes are named by distinct index names, and a bound
    of the magnitudes that went into it (for the comparison's tolerance)."""

    array: np.ndarray
    indices: tuple[str, ...]
    bound: float


def expand(value: Labeled, indices: Sequence[str], sizes: Mapping[str, int]) -> np.ndarray:
    """`value`'s array laid out over `indices` (a superset of its own),
    broadcast along the indices it lacks."""
    source = value.array
    for name in indices:
        if name not in value.indices:
            source = source[..., None]
    order = list(value.indices) + [n for n in indices if n not in value.indices]
    source = np.transpose(source, [order.index(n) for n in indices])
    return np.broadcast_to(source, tuple(sizes[n] for n in indices))


def union(*index_lists: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for names in index_lists for name in names))


def project(value: Labeled, names: Sequence[str], how: str, sizes: Mapping[str, int]) -> Labeled:
    """`value` with `names` (those it has) projected away by sum, mean or max."""
    axes = tuple(value.indices.index(n) for n in names if n in value.indices)
    if not axes:
        return value
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[how]
    count = math.prod(value.array.shape[a] for a in axes)
    bound = value.bound * (count if how == "sum" else 1)
    kept = tuple(n for n in value.indices if n not in names)
    return Labeled(reduce(value.array, axis=axes), kept, bound)


def elementwise(function: str, value: np.ndarray) -> np.ndarray:
    match function:
        case "relu":
            return np.maximum(value, 0.0)
        case "sig":
            return 1.0 / (1.0 + np.exp(-value))
        case "tanh":
            return np.tanh(value)
        case "exp":
            return np.exp(value)
        case "abs":
            return np.abs(value)
    raise ValueError(function)


def mentions(expr: Expr) -> set[str]:
    """The index names `expr` mentions."""
    match expr:
        case Access(_, indices, _):
            return {i for i in indices if isinstance(i, str)}
        case Literal():
            return set()
        case Negate(operand) | Call(_, operand):
            return mentions(operand)
        case Power(base, _):
            return mentions(base)
        case Product(factors, _):
            return set().union(*map(mentions, factors))
        case Sum(terms, _):
            return set().union(*map(mentions, terms))
    raise TypeError(expr)


def children(expr: Expr) -> tuple[Expr, ...]:
    match expr:
        case Negate(operand) | Call(_, operand):
            return (operand,)
        case Power(base, _):
            return (base,)
        case Product(factors, _):
            return factors
        case Sum(terms, _):
            return terms
    return ()


def placements(rhs: Expr, lhs: Sequence[str], projection: str) -> dict[int, set[str]]:
    """Where each index the LHS lacks is projected, by DESIGN.md section 3's
    rule: `id(node) -> names` to project over that node's value.

    Nodes are identified by `id` (one tree, alive for the whole evaluation)."""
    placed: dict[int, set[str]] = {}
    # Paths from the root to every node; a node is a "boundary" (a call
    # argument or the whole RHS) when its parent is a Call or it is the root.
    paths: list[list[Expr]] = []

    def walk(node: Expr, path: list[Expr]) -> None:
        path = [*path, node]
        if isinstance(node, Access):
            paths.append(path)
        for child in children(node):
            walk(child, path)

    walk(rhs, [])

    def is_boundary(path: list[Expr], depth: int) -> bool:
        return depth == 0 or isinstance(path[depth - 1], Call)

    def place(name: str, occurrences: list[list[Expr]]) -> None:
        """Places `name` within the scope whose root starts every path."""
        common = 0  # length of the common prefix of the occurrence paths
        while all(len(p) > common and p[common] is occurrences[0][common] for p in occurrences):
            common += 1
        path = occurrences[0]
        # Step 1: the smallest product / power / sum / call argument / RHS.
        depth = common - 1
        while not (
            isinstance(path[depth], (Product, Negate, Power, Sum)) or is_boundary(path, depth)
        ):
            depth -= 1
        node = path[depth]
        if not isinstance(node, Sum):  # step 2
            placed.setdefault(id(node), set()).add(name)
            return
        # Step 3: a joining product or a power's base between the sum and the
        # nearest enclosing call argument or the RHS.
        target = None
        up = depth
        while not is_boundary(path, up) and target is None:
            up -= 1
            ancestor = path[up]
            if isinstance(ancestor, Power) or (
                isinstance(ancestor, Product)
                and sum(name in mentions(f) for f in ancestor.factors) >= 2
            ):
                target = ancestor
        if target is not None:
            placed.setdefault(id(target), set()).add(name)
        elif projection == "max":  # step 4, max: over the sum as a whole
            placed.setdefault(id(node), set()).add(name)
        else:
            # Step 4, sum or mean: each term that mentions it, as if that term
            # were a right-hand side of its own (`L = t1 + t2` is `L = t1`
            # plus `L += t2`), so a call inside the term is still a boundary.
            for term in node.terms:
                within = [
                    p[next(k for k, q in enumerate(p) if q is term) :]
                    for p in occurrences
                    if any(q is term for q in p)
                ]
                if within:
                    place(name, within)

    for name in sorted(mentions(rhs) - set(lhs)):
        place(name, [p for p in paths if name in mentions(p[-1])])
    return placed


@dataclass
class Reference:
    """The reference run of a program: every defined tensor's value (float64),
    its magnitude bound, and whether a Boolean step was too close to call."""

    values: dict[str, np.ndarray]
    bounds: dict[str, float]
    ambiguous: bool = False


PROJECTIONS = {"=": "sum", "+=": "sum", "avg=": "mean", "max=": "max"}


class Evaluator:
    """Evaluates a `GeneratedProgram` from the semantics (no Fuse involved)."""

    def __init__(self, program: GeneratedProgram):
        self.program = program
        self.sizes = program.sizes
        self.values: dict[str, Labeled] = {}  # tensor -> value over positional axes

    def access(self, access: Access) -> Labeled:
        stored = self.values[access.tensor]
        array = stored.array
        # Integer indices select; repeated names take the diagonal.
        names: list[str] = []
        for position, index in reversed(list(enumerate(access.indices))):
            if isinstance(index, int):
                array = np.take(array, index, axis=position)
        for index in access.indices:
            if isinstance(index, str):
                names.append(index)
        letters = "abcdefghijklmnopqrstuvwxyz"
        distinct = list(dict.fromkeys(names))
        spec = "".join(letters[distinct.index(n)] for n in names)
        out = "".join(letters[i] for i in range(len(distinct)))
        array = np.einsum(f"{spec}->{out}", array) if names else array
        return Labeled(np.asarray(array, dtype=np.float64), tuple(distinct), stored.bound)

    def expr(self, node: Expr, placed: dict[int, set[str]], projection: str) -> Labeled:
        value = self.evaluate_node(node, placed, projection)
        return project(value, sorted(placed.get(id(node), ())), projection, self.sizes)

    def evaluate_node(self, node: Expr, placed: dict[int, set[str]], projection: str) -> Labeled:
        sizes = self.sizes
        match node:
            case Access():
                return self.access(node)
            case Literal(value):
                return Labeled(np.asarray(value, dtype=np.float64), (), abs(value))
            case Negate(operand):
                inner = self.expr(operand, placed, projection)
                return Labeled(-inner.array, inner.indices, inner.bound)
            case Call(function, argument):
                inner = self.expr(argument, placed, projection)
                result = elementwise(function, inner.array)
                bound = inner.bound * (
                    float(np.max(result, initial=1.0)) if function == "exp" else 1.0
                )
                return Labeled(result, inner.indices, bound)
            case Power(base, exponent):
                inner = self.expr(base, placed, projection)
                magnitude = float(np.max(np.abs(inner.array), initial=0.0))
                bound = exponent * inner.bound * max(magnitude, 1.0) ** (exponent - 1)
                return Labeled(inner.array**exponent, inner.indices, bound)
            case Product(factors, operators):
                values = [self.expr(f, placed, projection) for f in factors]
                indices = union(*(v.indices for v in values))
                result = expand(values[0], indices, sizes).astype(np.float64)
                bound = values[0].bound
                for operator, value in zip(operators, values[1:], strict=True):
                    operand = expand(value, indices, sizes)
                    if operator == "/":
                        result = result / operand
                        bound = bound / abs(float(value.array))
                    else:
                        result = result * operand
                        bound = bound * value.bound
                return Labeled(result, indices, bound)
            case Sum(terms, signs):
                values = [self.expr(t, placed, projection) for t in terms]
                indices = union(*(v.indices for v in values))
                result = sum(
                    s * expand(v, indices, sizes) for s, v in zip(signs, values, strict=True)
                )
                return Labeled(
                    np.asarray(result, dtype=np.float64), indices, sum(v.bound for v in values)
                )
        raise TypeError(node)

    def equation(self, equation: Equation) -> Labeled:
        projection = PROJECTIONS[equation.operator]
        placed = placements(equation.rhs, equation.lhs, projection)
        if equation.axis is not None:  # softmax(argument) along the dotted axis
            assert isinstance(equation.rhs, Call) and equation.rhs.function == "softmax"
            inner = self.expr(equation.rhs.argument, placed, projection)
            array = expand(inner, equation.lhs, self.sizes)
            axis = equation.lhs.index(equation.axis)
            shifted = np.exp(array - array.max(axis=axis, keepdims=True))
            return Labeled(
                shifted / shifted.sum(axis=axis, keepdims=True), equation.lhs, inner.bound
            )
        value = self.expr(equation.rhs, placed, projection)
        assert set(value.indices) <= set(equation.lhs), (value.indices, equation)
        return Labeled(np.array(expand(value, equation.lhs, self.sizes)), equation.lhs, value.bound)

    def run(self) -> Reference:
        program = self.program
        for name, array in program.inputs.items():
            names = tuple(f"_{k}" for k in range(array.ndim))  # positional only
            bound = float(np.max(np.abs(array), initial=0.0))
            self.values[name] = Labeled(array.astype(np.float64), names, bound)
        groups: dict[str, list[Equation]] = {}
        for equation in program.equations:
            groups.setdefault(equation.tensor, []).append(equation)
        reference = Reference({}, {})
        for tensor, equations in groups.items():  # generated in dependency order
            if any(tensor in reads(e.rhs) for e in equations):
                value = self.fixpoint(tensor, equations)
            else:
                value, ambiguous = self.combine(equations)
                reference.ambiguous |= ambiguous
            self.values[tensor] = value
            reference.values[tensor] = value.array
            reference.bounds[tensor] = value.bound
        return reference

    def combine(self, equations: list[Equation]) -> tuple[Labeled, bool]:
        """All equations of one tensor: added, or combined by max for `max=`;
        then `step` for a Boolean tensor. Also whether a step was ambiguous."""
        values = [self.equation(e) for e in equations]
        combine = np.maximum if equations[0].operator == "max=" else np.add
        array = values[0].array
        for value in values[1:]:
            array = combine(array, value.array)
        bound = sum(v.bound for v in values)
        if not equations[0].boolean:
            return Labeled(array, equations[0].lhs, bound), False
        near = np.abs(array) < 1e-4 * max(bound, 1.0)
        ambiguous = bool(np.any(near & (array != 0)))
        return Labeled((array > 0).astype(np.float64), equations[0].lhs, 1.0), ambiguous

    def fixpoint(self, tensor: str, equations: list[Equation]) -> Labeled:
        """The least fixpoint of a self-recursive tensor: from zeros, apply all
        its equations until nothing changes (Boolean: exact)."""
        shape = tuple(self.sizes[i] for i in equations[0].lhs)
        self.values[tensor] = Labeled(np.zeros(shape), equations[0].lhs, 1.0)
        for _ in range(100):
            value, _ = self.combine(equations)
            if np.array_equal(value.array, self.values[tensor].array):
                return value
            self.values[tensor] = value
        raise AssertionError(f"reference fixpoint of {tensor} did not converge")


def reads(expr: Expr) -> set[str]:
    """The tensors `expr` reads."""
    if isinstance(expr, Access):
        return {expr.tensor}
    return set().union(*map(reads, children(expr)))


def evaluate(program: GeneratedProgram) -> Reference:
    return Evaluator(program).run()


# --- the generator -------------------------------------------------------------------

# Index names and the tensors' names. `x y z` share one size (the closure's
# relation is square); the others draw their own.
FREE_NAMES = ("i", "j", "k", "l", "i'")
RELATION_NAMES = ("x", "y", "z")
ELEMENTWISE = ("relu", "sig", "tanh", "exp", "abs")
DIVISORS = (2.0, 0.5, 4.0, 1.5)
LITERALS = (0.5, 1.0, 2.0, 0.25, 3.0)


@dataclass(frozen=True)
class Scope:
    """What an expression being drawn may use.

    `tensors` maps readable tensors to their axis sizes; `names` are the
    index names it may mention; `lhs` the equation's LHS indices;
    `projection` the equation's projection; `depth` how much nesting is
    left; `full` lifts the placement restriction (module docstring)."""

    tensors: Mapping[str, tuple[int, ...]]
    sizes: Mapping[str, int]
    names: tuple[str, ...]
    lhs: tuple[str, ...]
    projection: str
    depth: int
    full: bool

    def restricted(self) -> Scope:
        """The scope under unary minus, a power or a parenthesized sum: by
        default only LHS indices there (so the two placement rules agree)."""
        names = self.names if self.full else self.lhs
        return Scope(
            self.tensors, self.sizes, names, self.lhs, self.projection, self.depth - 1, self.full
        )

    def deeper(self) -> Scope:
        return Scope(
            self.tensors,
            self.sizes,
            self.names,
            self.lhs,
            self.projection,
            self.depth - 1,
            self.full,
        )

    def lhs_only(self) -> Scope:
        return Scope(
            self.tensors, self.sizes, self.lhs, self.lhs, self.projection, self.depth, self.full
        )


@st.composite
def accesses(draw: st.DrawFn, scope: Scope) -> Access:
    """An access of a readable tensor: each position holds a name of that
    axis's size (so names join across tensors), sometimes an integer."""
    tensor = draw(st.sampled_from(sorted(scope.tensors)))
    indices: list[Index] = []
    for size in scope.tensors[tensor]:
        fitting = [n for n in scope.names if scope.sizes[n] == size]
        if not fitting or draw(st.integers(0, 7)) == 0:
            indices.append(draw(st.integers(0, size - 1)))
        else:
            indices.append(draw(st.sampled_from(fitting)))
    return Access(tensor, tuple(indices))


@st.composite
def factors(draw: st.DrawFn, scope: Scope, alone: bool) -> Expr:
    """One factor of a product. A factor that is a product's only factor is
    never a parenthesized sum (that would be a sum in a sum)."""
    kinds = ["access"] * 4 + ["literal"]
    if scope.depth > 0:
        kinds += ["call", "call", "negate", "power"] + ([] if alone else ["sum"])
    match draw(st.sampled_from(kinds)):
        case "access":
            return draw(accesses(scope))
        case "literal":
            return Literal(draw(st.sampled_from(LITERALS)))
        case "call":
            function = draw(st.sampled_from(ELEMENTWISE))
            argument = draw(sums(scope.deeper()))
            if function == "exp":  # keep exp's argument in [-1, 1]
                return Call("exp", Call("tanh", argument))
            return Call(function, argument)
        case "negate":
            return Negate(draw(factors(scope.restricted(), alone=True)))
        case "power":
            base = draw(
                st.one_of(factors(scope.restricted(), alone=True), products(scope.restricted()))
            )
            return Power(base, 2)
        case _:
            return draw(sums(scope.restricted(), at_least=2))


@st.composite
def products(draw: st.DrawFn, scope: Scope) -> Expr:
    """A term: a product of 1-3 factors, sometimes divided by a literal."""
    count = draw(st.sampled_from((1, 1, 2, 2, 3)))
    items = [draw(factors(scope, alone=count == 1))]
    operators: list[str] = []
    for _ in range(count - 1):
        operators.append(draw(st.sampled_from(["", "*"])))
        items.append(draw(factors(scope, alone=False)))
    if draw(st.integers(0, 5)) == 0:
        operators.append("/")
        items.append(Literal(draw(st.sampled_from(DIVISORS))))
    return items[0] if len(items) == 1 else Product(tuple(items), tuple(operators))


@st.composite
def sums(draw: st.DrawFn, scope: Scope, at_least: int = 1) -> Expr:
    """A sum of 1-3 terms. Under `max=` (by default) only the first term may
    mention indices the LHS lacks: `max` does not distribute over `+`."""
    count = max(at_least, draw(st.sampled_from((1, 1, 2, 2, 3))))
    terms = [draw(products(scope))]
    later = scope if scope.projection != "max" or scope.full else scope.lhs_only()
    for _ in range(count - 1):
        terms.append(draw(products(later)))
    if count == 1:
        return terms[0]
    signs = (1, *(draw(st.sampled_from([1, -1])) for _ in terms[1:]))
    return Sum(tuple(terms), signs)


def with_lhs_indices(rhs: Expr, lhs: tuple[str, ...], scope: Scope, draw: st.DrawFn) -> Expr:
    """`rhs` joined with accesses that mention the LHS indices it lacks (an
    LHS index only broadcasts when its size is known from elsewhere)."""
    missing = [n for n in lhs if n not in mentions(rhs)]
    extra: list[Expr] = []
    for name in missing:
        size = scope.sizes[name]
        fitting = [t for t, shape in scope.tensors.items() if size in shape]
        tensor = draw(st.sampled_from(sorted(fitting)))
        shape = scope.tensors[tensor]
        position = shape.index(size)
        indices = tuple(name if k == position else 0 for k in range(len(shape)))
        extra.append(Access(tensor, indices))
    if not extra:
        return rhs
    # Join each term rather than the sum as a whole: a sum inside a product
    # would put the indices it projects under a parenthesized sum.
    if isinstance(rhs, Sum):
        return Sum(tuple(join(t, extra) for t in rhs.terms), rhs.signs)
    return join(rhs, extra)


def join(term: Expr, extra: Sequence[Expr]) -> Product:
    """`term` times `extra` as one flat product (parentheses around a product
    only group, so a nested product would not be a subexpression of its own)."""
    if isinstance(term, Product):
        return Product((*term.factors, *extra), (*term.operators, *("",) * len(extra)))
    return Product((term, *extra), ("",) * len(extra))


@st.composite
def programs(draw: st.DrawFn, full_projection_rule: bool = False) -> GeneratedProgram:
    """A random program with its runtime inputs (module docstring)."""
    sizes = {name: draw(st.integers(1, 4)) for name in FREE_NAMES}
    relation_size = draw(st.integers(1, 4))
    sizes.update(dict.fromkeys(RELATION_NAMES, relation_size))
    names = (*FREE_NAMES, *RELATION_NAMES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tensors: dict[str, tuple[int, ...]] = {}
    inputs: dict[str, np.ndarray] = {}
    for tensor in ("A", "B", "C")[: draw(st.integers(1, 3))]:
        axes = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
        shape = tuple(sizes[n] for n in axes)
        inputs[tensor] = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        tensors[tensor] = shape
    inputs["R"] = (rng.random((relation_size, relation_size)) < 0.4).astype(np.float32)
    tensors["R"] = (relation_size, relation_size)
    program = GeneratedProgram(sizes, inputs)
    # Every name must have a tensor axis of its size for LHS indices to be
    # joined in; restrict LHS names to those.
    available = tuple(n for n in names if any(sizes[n] in s for s in tensors.values()))

    for number in range(draw(st.integers(1, 4))):
        tensor = f"T{number}"
        kind = draw(st.sampled_from(["plain", "plain", "plain", "boolean", "softmax"]))
        operators = ["=", "avg="] if full_projection_rule else ["=", "max=", "avg="]
        operator = "=" if kind != "plain" else draw(st.sampled_from(operators))
        lhs = tuple(
            draw(
                st.lists(
                    st.sampled_from(available), unique=True, min_size=kind == "softmax", max_size=3
                )
            )
        )
        projection = PROJECTIONS[operator]
        depth = draw(st.sampled_from((0, 1, 1, 2)))
        scope = Scope(tensors, sizes, names, lhs, projection, depth, full_projection_rule)
        count = 1 if kind == "softmax" else draw(st.integers(1, 2))
        for equation_number in range(count):
            rhs = with_lhs_indices(draw(sums(scope)), lhs, scope, draw)
            this_operator = operator
            if equation_number > 0:
                this_operator = "max=" if operator == "max=" else "+="
            axis = None
            if kind == "softmax":
                rhs = Call("softmax", rhs)
                axis = draw(st.sampled_from(lhs))
            program.equations.append(
                Equation(tensor, lhs, this_operator, rhs, boolean=kind == "boolean", axis=axis)
            )
        tensors[tensor] = tuple(sizes[n] for n in lhs)

    if draw(st.booleans()):  # a recursive Boolean transitive closure of R
        program.equations.append(
            Equation("Reach", ("x", "y"), "=", Access("R", ("x", "y"), True), True)
        )
        step = Product((Access("Reach", ("x", "y"), True), Access("R", ("y", "z"), True)), ("",))
        program.equations.append(Equation("Reach", ("x", "z"), "+=", step, True))
    return program
