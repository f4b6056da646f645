"""Optional dependencies: check for them, and name the extra that installs them.

Heavy libraries (torch, openai, vllm, pyarrow ...) are extras and are imported only
where used; a missing one is a one-line ``UsageError`` telling the user what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from leancot.errors import UsageError


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or fail with "pip install 'leancot[extra]'"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise UsageError(f"this needs {top}, which is not installed: pip install 'leancot[{extra}]'") from None
