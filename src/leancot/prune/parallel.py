"""An ordered process pool: work in chunks on N processes, results handed back in input order.

The offline pruner is CPU-bound Python, so threads do not help; processes do. Items go out in
chunks (one pickling round trip per chunk, not per trace) with a bounded number of chunks in
flight (memory stays flat on any input size), and results come back in the order the items
came in, so a run with ``--workers 4`` writes the same records, in the same order, as one with
``--workers 1``. This module knows nothing of pruning: the stage hands it the work.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from leancot.processes import worker_initializer

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 16  # items per round trip: large enough to amortise pickling, small enough to keep both cores busy
IN_FLIGHT_PER_WORKER = 3


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


async def ordered_map(
    items: Iterable[T],
    work: Callable[[list[T]], list[R]],
    *,
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    on_results: Callable[[list[T], list[R]], Awaitable[None] | None],
    chunk: int = CHUNK,
) -> None:
    """Run ``work`` over chunks of ``items`` in ``workers`` processes; ``on_results(chunk, results)`` in order."""
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    start, args = worker_initializer(initializer, initargs)  # workers die with this process, kill -9 included
    with ProcessPoolExecutor(workers, mp_context=context, initializer=start, initargs=args) as pool:
        pending: deque[tuple[list[T], asyncio.Future]] = deque()
        for part in chunks(items, chunk):
            pending.append((part, loop.run_in_executor(pool, work, part)))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                await _hand_back(pending.popleft(), on_results)
        while pending:
            await _hand_back(pending.popleft(), on_results)


async def _hand_back(entry: tuple[list[Any], asyncio.Future], on_results: Callable[..., Any]) -> None:
    part, future = entry
    done = on_results(part, await future)
    if asyncio.iscoroutine(done):
        await done
