"""Building IR for tests from MLIR text."""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.func import Func
from xdsl.parser import Parser

from fuse.dialects.fuse import Fuse


def parse_module(text: str, *, verify: bool = True) -> ModuleOp:
    """Parses `text` with the builtin, func and fuse dialects loaded; a text
    without a `builtin.module` is wrapped in one by the parser."""
    context = Context()
    for dialect in (Builtin, Func, Fuse):
        context.load_dialect(dialect)
    module = Parser(context, text).parse_module()
    if verify:
        module.verify()
    return module
