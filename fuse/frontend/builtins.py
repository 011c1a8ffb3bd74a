"""Signatures of the DSL's builtin functions.

One table serves the front end (argument-count and keyword diagnostics, and
telling a call `relu(x)` from a Boolean access `Fact(i, j)`) and the IR
builder (which positions are index names, not tensor expressions). The
exact formula of each builtin is documented in `docs/dsl_reference.md`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class BuiltinKind(Enum):
    UNARY = "unary"  # elementwise function of one tensor
    NORMALIZE = "normalize"  # normalizes over one axis
    REDUCE = "reduce"  # projects its argument's extra indices itself
    INDEX = "index"  # a tensor computed from index positions
    STRUCTURAL = "structural"  # everything with its own lowering


@dataclass(frozen=True)
class Builtin:
    name: str
    kind: BuiltinKind
    min_args: int
    max_args: int | None  # None: variadic
    keywords: frozenset[str] = frozenset()
    index_args: bool = False  # positional arguments are index names
    # Keywords that may also follow the positional arguments, in this order:
    # `sig(x, 0.5)` is `sig(x, T=0.5)`.
    positional_keywords: tuple[str, ...] = ()
    # Keywords whose value may be a tensor expression (an operand of the
    # call); every other keyword is a literal kept as an attribute.
    tensor_keywords: frozenset[str] = frozenset()

    @property
    def most_args(self) -> int | None:
        """The most positional arguments a call may have, keywords given
        positionally included."""
        if self.max_args is None:
            return None
        return self.max_args + len(self.positional_keywords)

    def arity_text(self) -> str:
        most = self.most_args
        if most is None:
            return f"at least {self.min_args}"
        if self.min_args == most:
            return str(self.min_args)
        return f"{self.min_args} to {most}"


def _b(
    name: str,
    kind: BuiltinKind,
    min_args: int,
    max_args: int | None,
    keywords: tuple[str, ...] = (),
    index_args: bool = False,
    tensor_keywords: tuple[str, ...] = (),
) -> Builtin:
    return Builtin(
        name,
        kind,
        min_args,
        max_args,
        frozenset(keywords),
        index_args,
        positional_keywords=tensor_keywords,
        tensor_keywords=frozenset(tensor_keywords),
    )


_U = BuiltinKind.UNARY
_N = BuiltinKind.NORMALIZE

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        _b("relu", _U, 1, 1),
        _b("sig", _U, 1, 1, ("T",), tensor_keywords=("T",)),
        _b("gelu", _U, 1, 1),
        _b("step", _U, 1, 1),
        _b("exp", _U, 1, 1),
        _b("log", _U, 1, 1),
        _b("sqrt", _U, 1, 1),
        _b("abs", _U, 1, 1),
        _b("tanh", _U, 1, 1),
        _b("sin", _U, 1, 1),
        _b("cos", _U, 1, 1),
        _b("softmax", _N, 1, 1, ("axis",)),
        _b("lnorm", _N, 1, 1, ("axis", "eps")),
        _b("layernorm", _N, 1, 1, ("axis", "eps")),
        _b("masked_softmax", _N, 2, 2, ("axis",)),
        _b("reduce_max", BuiltinKind.REDUCE, 1, 1, ("axis",)),
        _b("reduce_mean", BuiltinKind.REDUCE, 1, 1, ("axis",)),
        _b("even", BuiltinKind.INDEX, 0, 1, ("axis",), index_args=True),
        _b("odd", BuiltinKind.INDEX, 0, 1, ("axis",), index_args=True),
        _b("causal_mask", BuiltinKind.INDEX, 2, 2, index_args=True),
        _b("iota", BuiltinKind.INDEX, 1, 1, index_args=True),
        _b("attention", BuiltinKind.STRUCTURAL, 3, 4, ("scale",)),
        _b("rope", BuiltinKind.STRUCTURAL, 1, 1, ("pos", "axis", "base")),
        # The IR builder gives a head merge (`concat(X)`) its `merge` keyword
        # itself: one a user wrote was ignored or misread (`merge=(h, e)` as
        # rank-0 tensors h and e), so it is no keyword of the language.
        _b("concat", BuiltinKind.STRUCTURAL, 1, None, ("axis",)),
        _b("topk", BuiltinKind.STRUCTURAL, 1, 1, ("k", "axis")),
        _b("const", BuiltinKind.STRUCTURAL, 1, 1),
        _b("case", BuiltinKind.STRUCTURAL, 1, None),
        _b("tucker_dense", BuiltinKind.STRUCTURAL, 2, None),
        # `grad(Loss, W[i, j])`: the gradient of a scalar loss with respect
        # to a tensor, built by fuse-autodiff's reverse sweep (docs/learning.md).
        _b("grad", BuiltinKind.STRUCTURAL, 2, 2),
    )
}

# Keywords whose value is a number literal, and those of them that must be
# a positive integer.
NUMBER_KEYWORDS = frozenset({"eps", "scale", "base", "k"})
INTEGER_KEYWORDS = frozenset({"k"})

# Spellings that name the same builtin.
ALIASES: dict[str, str] = {"layernorm": "lnorm"}


def lookup(name: str) -> Builtin | None:
    return BUILTINS.get(name)
