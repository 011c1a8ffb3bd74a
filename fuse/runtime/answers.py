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

from collections.abc import Mapping

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
    names = [domains.domain(query.tensor, k).name if domains else str for k in positions]

    def symbol(k: int, position: int) -> str:
        return names[k](position)

    bound = [
        symbol(k, i.value) if isinstance(i, IndexConst) else i.name
        for k, i in enumerate(query.indices)
    ]
    lines = [f"{query.tensor}({', '.join(bound)})?"]
    free = [(k, i.name) for k, i in enumerate(query.indices) if isinstance(i, IndexVar)]
    answer = np.asarray(answer)
    boolean = bool(np.isin(answer, (0.0, 1.0)).all())
    for position in zip(*np.nonzero(answer), strict=True) if answer.ndim else [()]:
        value = float(answer[position])
        if value == 0.0:
            continue
        text = ", ".join(
            f"{name} = {symbol(k, p)}" for (k, name), p in zip(free, position, strict=True)
        )
        text = text or "true"
        lines.append(f"  {text}" if boolean else f"  {text}: {value:g}")
    if len(lines) == 1:
        lines.append("  (no answers)")
    return "\n".join(lines)
