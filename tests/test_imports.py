"""The import graph: no cycles, and the transport (``leancot.llm``) imports no stage.

Every ``import`` in the package is read with ``ast`` -- those inside functions too, since a
lazy import that closes a loop is still a loop in the design (only ``if TYPE_CHECKING:``
blocks are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

import leancot

ROOT = Path(leancot.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                if hasattr(child, "lineno"):
                    lines.add(child.lineno)
    return lines


def imports_of(module: str) -> set[str]:
    """The leancot modules ``module`` imports (``from a import b`` counts ``a.b`` when it is a module)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("leancot")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("leancot") and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES and m != module}


def graph() -> dict[str, set[str]]:
    return {m: imports_of(m) for m in MODULES}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_the_imports_it_should():
    g = graph()
    assert "leancot.prune.registry" in g["leancot.prune.stage"]
    assert "leancot.llm.client" in g["leancot.prune.teacher.pruner"]


def test_there_is_no_import_cycle():
    assert cycles(graph()) == []


def test_a_cycle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_transport_imports_no_stage():
    stages = ("leancot.prune", "leancot.generate", "leancot.evaluate", "leancot.train", "leancot.lab", "leancot.report",
              "leancot.pipeline", "leancot.cli")  # fmt: skip
    for module in (m for m in MODULES if m.startswith("leancot.llm")):
        assert not [i for i in imports_of(module) if i.startswith(stages)], module
