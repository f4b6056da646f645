"""Judge a pruned path by hand annotations of its trace, independently of leancot's own derivation check.

An annotated trace says which computations a faithful path needs (``required``: each ``expr``
exactly as the trace writes it, with ``after``: the ids of the required computations it uses) and
which computations the trace takes back (``retracted``). The trap set (``leancot.data.traps``)
and the lab's teacher (``leancot.lab.teacher``) write such annotations; the faithfulness benchmark
and the lab's table count the paths this module calls complete.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text)


def complete(path: str, required: Sequence[dict[str, Any]], retracted: Sequence[str] = ()) -> tuple[bool, str]:
    """``(ok, why not)``: every required computation is in ``path``, each after those it uses, and none retracted is.

    Whitespace is not significant (a path may join lines); the text of a computation is."""
    text = _squash(path)
    where = {r["id"]: text.find(_squash(r["expr"])) for r in required}
    missing = [r["expr"] for r in required if where[r["id"]] < 0]
    if missing:
        return False, f"missing {missing[0]!r}"
    for r in required:
        for dep in r.get("after", []):
            if where[dep] > where[r["id"]]:
                return False, f"{r['expr']!r} comes before {dep!r}, which it uses"
    kept = [x for x in retracted if _squash(x) in text]
    return (False, f"retracted {kept[0]!r} kept") if kept else (True, "")
