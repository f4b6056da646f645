"""Prompt files: text shipped in a package's ``prompts/`` folder, with ``{{name}}`` slots.

Prompts are data, not escaped strings in code: each stage keeps its own files
(``leancot/generate/prompts``, ``leancot/prune/teacher/prompts``) and loads them here.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

_SLOT = re.compile(r"\{\{(\w+)\}\}")


@functools.cache
def load(package: str, name: str) -> str:
    """The text of ``<package>/prompts/<name>.txt`` from the installed package."""
    return (resources.files(package) / "prompts" / f"{name}.txt").read_text(encoding="utf-8")


def render(template: str, **values: Any) -> str:
    """Fill ``{{name}}`` slots in one pass (a value holding ``{{x}}`` is left alone)."""
    return _SLOT.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)
