"""Query answers as a Datalog user reads them: one line per answer, with
symbols.

`Ancestor(Alice, x)?` over a family knowledge base prints

```
Ancestor(Alice, x)?
  x = Bob
  x = Beth
```

and a numeric tensor prints each nonzero answer with its value
(`x = Bob: 0.75`). Positions print by symbol where their domain has
symbols (`fuse/frontend/domains.py`), else by number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from fuse.frontend.ast import IndexConst, IndexVar, Program, Query
from fuse.frontend.domains import DomainTable


def query_outputs(program: Program, outputs: Mapping[str, object]) -> list[tuple[Query, str]]:
    """Each query statement with the name of its answer among `outputs`
    (`Query_Path`, in statement order for several queries of one tensor)."""
    queries = [s for s in program.statements if isinstance(s, Query)]
    names = [n for n in outputs if n.startswith("Query_")]
    paired: list[tuple[Query, str]] = []
    for query in queries:
        name = next((n for n in names if n.startswith(f"Query_{query.tensor}")), None)
        if name is not None:
            names.remove(name)
            paired.append((query, name))
    return paired


def format_answer(query: Query, answer: np.ndarray, domains: DomainTable | None) -> str:
    positions = range(len(query.indices))
    spell = [_spelling(domains, query.tensor, k) for k in positions]
    bound = [
        spell[k]([i.value])[0] if isinstance(i, IndexConst) else i.name
        for k, i in enumerate(query.indices)
    ]
    lines = [f"{query.tensor}({', '.join(bound)})?"]
    free = [(k, i.name) for k, i in enumerate(query.indices) if isinstance(i, IndexVar)]
    answer = np.asarray(answer)
    boolean = bool(np.isin(answer, (0.0, 1.0)).all())
    where = np.nonzero(answer) if answer.ndim else ()
    values = answer[where].tolist() if answer.ndim else [float(answer)]
    # Spelled a column at a time: an answer can have thousands of rows.
    columns = [
        [f"{name} = {symbol}" for symbol in spell[k](coordinates.tolist())]
        for (k, name), coordinates in zip(free, where, strict=True)
    ]
    rows = zip(*columns, strict=True) if columns else [()] * len(values)
    for pieces, value in zip(rows, values, strict=True):
        if value == 0.0:
            continue
        text = ", ".join(pieces) or "true"
        lines.append(f"  {text}" if boolean else f"  {text}: {value:g}")
    if len(lines) == 1:
        lines.append("  (no answers)")
    return "\n".join(lines)


def _spelling(
    domains: DomainTable | None, tensor: str, k: int
) -> Callable[[Sequence[int]], list[str]]:
    """How position `k` of `tensor` prints: by symbol where its domain has
    symbols, else by number."""
    if domains is None:
        return lambda positions: [str(p) for p in positions]
    return domains.domain(tensor, k).names
