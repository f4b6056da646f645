"""Generation backends, chosen by name and imported only when chosen.

A plain registry of ``name -> "module:Class"`` (as lm-evaluation-harness does): the CPU
path never imports vLLM or the OpenAI SDK, and a backend whose extra is not installed
is a one-line usage error naming the ``pip install`` that fixes it.
"""

from __future__ import annotations

import importlib
import importlib.util

from leancot.errors import UsageError
from leancot.evaluate.backends.base import Backend, BackendOptions, Generation, Prompt, Sampling

BACKENDS: dict[str, str] = {
    "hf": "leancot.evaluate.backends.hf:HFBackend",
    "vllm": "leancot.evaluate.backends.vllm:VLLMBackend",
    "openai": "leancot.evaluate.backends.openai:OpenAIBackend",
}
#: backend -> (the module it needs, the leancot extra that installs it)
REQUIRES: dict[str, tuple[str, str]] = {"hf": ("torch", "train"), "vllm": ("vllm", "vllm"), "openai": ("openai", "api")}

__all__ = ["BACKENDS", "Backend", "BackendOptions", "Generation", "Prompt", "Sampling", "default_backend", "load_backend"]


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def default_backend() -> str:
    """``vllm`` where it is installed and a GPU is visible, else ``hf``."""
    if is_available("vllm"):
        import torch

        if torch.cuda.is_available():
            return "vllm"
    return "hf"


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``; a UsageError if unknown or its extra is missing."""
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    module, extra = REQUIRES[name]
    if not is_available(module):
        raise UsageError(f"the {name} backend needs {module}, which is not installed: pip install 'leancot[{extra}]'")
    path, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(path), cls)


def load_backend(name: str, options: BackendOptions) -> Backend:
    """Import and start the backend called ``name`` (loads the model or opens the client)."""
    return backend_class(name)(options)
