"""The abstract syntax tree of the Fuse DSL.

Every node carries the `Span` it was parsed from. Spans are excluded from
equality, so a tree printed back to text and parsed again compares equal to
the original (`parse(print(ast)) == ast`).

Index positions hold an `IndexVar` (a name, optionally primed and, on a
left-hand side, dotted to mark a normalization axis; starred, `*t`, to mark
a virtual index), an `IndexConst` (an integer constant index such as
`Obs[0, o]`), an `IndexArith` (index arithmetic: `t+1`, `x+dx`, `2*i`,
`x/S`) or an `IndexSlice` (`X[4:8]`, `X[i, 2:]`). `fuse.frontend.
index_arith` folds arithmetic into affine form (docs/index_arithmetic.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Span:
    """A source range: 1-based line and column of its first character and of
    the character just past its end."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN_SPAN = Span("<unknown>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=UNKNOWN_SPAN, compare=False, repr=False)  # type: ignore[return-value]


# --- index positions --------------------------------------------------------


@dataclass(frozen=True)
class IndexVar:
    """An index name (`i`, `p'`), dotted (`t.`) on a left-hand side to name a
    normalization axis, or starred (`*t`) to mark a virtual index (iterated
    but not stored; DESIGN.md section 3b). A name that begins with an
    uppercase letter (`Alice`, `L`) or is quoted (`"loves"`, spelled with its
    quotes) is a constant, not a variable (`is_constant_name`)."""

    name: str
    dotted: bool = False
    span: Span = _span()
    virtual: bool = False


def is_constant_name(name: str) -> bool:
    """Whether an index name is a constant: a symbol or a named integer
    (uppercase first letter), or a quoted symbol (`"loves"`)."""
    return name[:1].isupper() or name[:1] == '"'


def symbol_of(name: str) -> str:
    """The symbol a constant index name spells: `"loves"` is `loves`."""
    return name[1:-1] if name[:1] == '"' else name


@dataclass(frozen=True)
class IndexConst:
    """An integer in an index position: `Obs[0, o]` selects position 0."""

    value: int
    span: Span = _span()


IndexOperator = Literal["+", "-", "*", "/"]


@dataclass(frozen=True)
class IndexArith:
    """Arithmetic in an index position: `t+1`, `i-1`, `x+dx`, `2*i`, `x/S`
    (`/` is floor division by a constant). The parser refuses products of
    two variables and divisions by a variable; the rest of what makes an
    expression affine is checked once named constants are known."""

    op: IndexOperator
    lhs: Index
    rhs: Index
    span: Span = _span()


@dataclass(frozen=True)
class IndexSlice:
    """`4:8`, `2:` or `:8` in an index position: a contiguous range, bound to
    the left-hand-side index at the same position. Bounds are constant
    expressions; a missing one is the dimension's start or end."""

    start: Index | None
    stop: Index | None
    span: Span = _span()


Index = IndexVar | IndexConst | IndexArith | IndexSlice


def index_leaves(index: Index) -> list[IndexVar | IndexConst]:
    """The names and integers an index position is built from, in order."""
    if isinstance(index, IndexArith):
        return index_leaves(index.lhs) + index_leaves(index.rhs)
    if isinstance(index, IndexSlice):
        bounds = [b for b in (index.start, index.stop) if b is not None]
        return [leaf for bound in bounds for leaf in index_leaves(bound)]
    return [index]


def map_index_leaves(index: Index, rewrite: Callable[[IndexVar | IndexConst], Index]) -> Index:
    """`index` with each name and integer passed through `rewrite`."""
    if isinstance(index, IndexArith):
        lhs, rhs = map_index_leaves(index.lhs, rewrite), map_index_leaves(index.rhs, rewrite)
        return dataclasses.replace(index, lhs=lhs, rhs=rhs)
    if isinstance(index, IndexSlice):
        start = None if index.start is None else map_index_leaves(index.start, rewrite)
        stop = None if index.stop is None else map_index_leaves(index.stop, rewrite)
        return dataclasses.replace(index, start=start, stop=stop)
    return rewrite(index)


def index_variables(index: Index) -> list[IndexVar]:
    """The index variables (names that are not constants) an index
    position mentions."""
    return [
        leaf
        for leaf in index_leaves(index)
        if isinstance(leaf, IndexVar) and not is_constant_name(leaf.name)
    ]


# --- expressions ------------------------------------------------------------


@dataclass(frozen=True)
class TensorRef:
    """A tensor access. `A[i, j]` (numeric) or `Fact(i, j)` (Boolean
    spelling; reads the same tensor). A bare name `V` is a rank-0 access."""

    name: str
    indices: tuple[Index, ...] = ()
    boolean: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Number:
    """A numeric literal; it broadcasts over any indices."""

    value: int | float
    span: Span = _span()


@dataclass(frozen=True)
class String:
    """A string literal (file paths, `axis="q"` keyword values)."""

    value: str
    span: Span = _span()


@dataclass(frozen=True)
class ListLiteral:
    """A bracketed list, possibly nested: `[[1, 2], [3, 4]]` in `const(...)`."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class TupleLiteral:
    """A parenthesized, comma-separated tuple: `(a, b)` as a call argument."""

    items: tuple[Expr, ...]
    span: Span = _span()


BinaryOperator = Literal["+", "-", "*", "/", "^", "join"]


@dataclass(frozen=True)
class BinaryOp:
    """Arithmetic. `join` is juxtaposition (`A[i,k] B[k,j]`): a product
    aligned by index name, exactly like `*`, kept apart only so the printer
    reproduces the source's spelling."""

    op: BinaryOperator
    lhs: Expr
    rhs: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    """Negation of a Boolean atom, `not R(x, y)` or `!R(x, y)`: `1 - R`.
    Kept apart from arithmetic so the checks can refuse negation through
    recursion (the program must stratify)."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Keyword:
    """A keyword argument `name=value` of a call."""

    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """A builtin call with positional and keyword arguments. Index-function
    arguments (`even(i)`, `causal_mask(i, j)`) are bare-name `TensorRef`s;
    `fuse.frontend.builtins` says which positions are indices."""

    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()
    span: Span = _span()


Expr = TensorRef | Number | String | ListLiteral | TupleLiteral | BinaryOp | Negate | Not | Call


# --- statements -------------------------------------------------------------

ProjectionOperator = Literal["=", "+=", "max=", "avg="]


@dataclass(frozen=True)
class Lhs:
    """The left-hand side of an equation or source: `Y[p, t.]`, `Path(x, y)`
    (Boolean: its combined value goes through `step`), or a bare name."""

    name: str
    indices: tuple[Index, ...] = ()
    boolean: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Equation:
    """`L[idx] op RHS`."""

    lhs: Lhs
    op: ProjectionOperator
    rhs: Expr
    span: Span = _span()
    # The step counts the front end gives the left-hand side's virtual
    # indices from named constants (`S = 100` bounds `*s`): (index, count).
    steps: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Source:
    """`T[i, j] = "file.npy"`: the tensor's default value comes from a file."""

    lhs: Lhs
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class Sink:
    """`"file.npy" = expr`: the value of `expr` is written to a file."""

    path: str
    rhs: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Export:
    """`export T`: a run returns `T`."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Query:
    """`Path(3, y)?`: asks for the values of `tensor` at the integer
    positions (bound) over the named ones (free). A program with queries
    returns their answers, computed on demand: only what they reach."""

    tensor: str
    indices: tuple[Index, ...] = ()
    boolean: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class FunctionDef:
    """`softsign(x) := x / (1 + abs(x))`: a user function, inlined at each
    call (`fuse.frontend.desugar`). Parameters are bare names in the body."""

    name: str
    params: tuple[str, ...]
    body: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Fact:
    """`Parent(Alice, Bob)` or `X(1)`: one true element of a Boolean
    relation, at constant positions (symbols or integers). `X(1) = 0.5`
    gives the element a value."""

    relation: str
    indices: tuple[Index, ...]
    value: int | float = 1
    span: Span = _span()


@dataclass(frozen=True)
class Facts:
    """Consecutive one-line facts of one relation, `Parent(P1, P2).` then
    `Parent(P2, P3).`, held flat: a Datalog program's data can be a hundred
    thousand such lines, too many for one `Fact` node (with its index nodes
    and spans) each. `constants` holds every fact's `rank` constants in
    reading order (symbols as strings, integers as ints); fact k stands on
    line `first_line + k`. `span` is the first fact's relation name."""

    relation: str
    rank: int
    constants: tuple[str | int, ...]
    first_line: int = field(default=0, compare=False)
    span: Span = _span()

    @property
    def rows(self) -> list[tuple[str | int, ...]]:
        """The facts' constants, one tuple per fact."""
        return list(zip(*[iter(self.constants)] * self.rank, strict=True))


@dataclass(frozen=True)
class FactTable:
    """All facts of one relation over its domains, as the front end hands
    them on (`fuse.frontend.desugar`): a Boolean tensor `lhs` of `shape`
    that is `values[n]` at `coordinates[n]` and zero elsewhere. A sparse
    coordinate list, never a dense literal, so a hundred thousand facts
    cost a hundred thousand rows, whatever the domains' sizes."""

    lhs: Lhs
    shape: tuple[int, ...]
    coordinates: np.ndarray = field(compare=False)  # (facts, rank) int64
    values: np.ndarray = field(compare=False)  # (facts,) float32
    span: Span = _span()

    def dense(self) -> np.ndarray:
        """The relation as a float32 array."""
        array = np.zeros(self.shape, np.float32)
        array[tuple(self.coordinates.T)] = self.values
        return array


Statement = Equation | Source | Sink | Export | Query | FunctionDef | Fact | Facts | FactTable


@dataclass(frozen=True)
class Program:
    statements: tuple[Statement, ...]
    file: str = field(default="<string>", compare=False)
    # The symbols of each index position's domain (`fuse.frontend.domains.
    # DomainTable`), once the front end has resolved them.
    domains: object = field(default=None, compare=False, repr=False)
    # `fuse.errors.Diagnostic`s of severity "warning" the front end found.
    warnings: tuple = field(default=(), compare=False, repr=False)
