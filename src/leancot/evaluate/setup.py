"""What an evaluation ran on, for ``summary.json``: package versions and hardware.

Cheap and import-light: versions come from the installed distributions' metadata, and the
GPUs are listed only when torch is already loaded (a local backend loaded it) or importable.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from importlib import metadata
from typing import Any

log = logging.getLogger(__name__)

# Packages whose versions change what a backend generates.
PACKAGES = {"hf": ("torch", "transformers"), "vllm": ("vllm", "torch", "transformers"), "openai": ("openai",)}


def versions(backend: str | None) -> dict[str, str | None]:
    """leancot, math-verify and the backend's packages -> version (None: not installed)."""
    names = ("leancot", "math-verify", *PACKAGES.get(backend or "", ("torch", "transformers")))
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in dict.fromkeys(names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def hardware() -> dict[str, Any]:
    """The machine: platform, CPU count and, when there are any, the GPUs' names."""
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(), "gpus": []}
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            return info
    try:
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = torch.version.cuda
    except Exception as e:  # noqa: BLE001 - a broken driver must not fail the summary
        log.debug("no GPU information: %s", e)
    return info
