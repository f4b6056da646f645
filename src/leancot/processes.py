"""Worker processes that never outlive the run that started them.

A stage that works on N processes (``leancot prune --workers N``, the lab's seeds) starts them
with :func:`worker_initializer`. In each worker:

- the parent's death kills it, ``kill -9`` of the parent included: on Linux through
  ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, elsewhere through a thread that watches the parent's pid;
- SIGTERM has its default meaning (a forked worker inherits the stage's handler, which only sets a
  flag in the parent: the worker would ignore SIGTERM and sleep on forever);
- Ctrl-C (SIGINT, sent to the whole process group) is left to the parent, which stops the pool,
  reports "interrupted at N of M" and exits; its workers then go with it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1


def bind_to_parent(parent_pid: int) -> None:
    """Make this process die with ``parent_pid`` and take the signal handling of a worker (module docstring)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _death_signal(signal.SIGKILL):
        threading.Thread(target=_watch, args=(parent_pid,), daemon=True, name="leancot-parent-watch").start()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)


def _death_signal(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int, every_s: float = 1.0) -> None:
    while os.getppid() == parent_pid:
        time.sleep(every_s)
    os._exit(1)


def worker_initializer(initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()) -> tuple[Callable[..., None], tuple]:
    """``(initializer, initargs)`` for a ``ProcessPoolExecutor`` whose workers die with this process,
    then run ``initializer(*initargs)``."""
    return _start, (os.getpid(), initializer, initargs)


def _start(parent_pid: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    bind_to_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)
