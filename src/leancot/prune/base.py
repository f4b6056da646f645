"""What a pruner is: one ``Trace`` in, a concise path (``Pruned``) out, or a reason why not.

A pruner only prunes. The prune stage (``leancot.prune.stage``) owns everything around it:
reading rows, rejecting unusable traces, verification, ``--on-fail``, the fallback pruner,
writing records and the manifest. A pruner says what happened by what it returns or raises:

- returns ``Pruned``: steps and the pruned text (the stage verifies it);
- raises ``PruneFailed``: it could not produce a path (e.g. the teacher's answers stayed
  invalid); the stage tries its fallback pruner, else rejects with the reason;
- raises ``Rejected``: the trace is rejected as it is (no fallback);
- raises ``Deferred``: the work is queued elsewhere (a Batch API request); the stage leaves the
  trace pending and runs it again in the next pass;
- raises ``Postponed``: a service it needs failed for now (the teacher server timed out); the
  trace stays pending -- not a reject -- and the run ends resumable, exit 2;
- raises ``StopRun``: stop the whole run cleanly and resumably (``--max-cost`` is spent: exit 0;
  the teacher server stays down: ``exit_code=2``).

A pruner that chooses among the samples of each problem (``shortest-correct``) has a
``chooser``: the stage first shows it every readable trace of the input, then rejects, before
anything else, each trace the chooser leaves out (``Chooser.verdict``); the rest are pruned as usual.

New methods plug in with one entry in ``leancot.prune.registry.PRUNERS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from leancot.schema import Step, Trace


@dataclass
class Pruned:
    """A pruner's answer for one trace."""

    steps: list[Step]
    pruned: str
    method: str  # recorded in PrunedTrace.method: "heuristic", "llm:<model>", ...
    usage: dict[str, Any] | None = None  # API tokens and cost this trace took
    extra: dict[str, Any] = field(default_factory=dict)  # more PrunedTrace fields


class PruneFailed(Exception):
    """The pruner could not produce a path for this trace; the stage may fall back."""

    def __init__(self, reason: str, detail: str = "", usage: dict[str, Any] | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.usage = reason, detail, usage


class Rejected(Exception):
    """The trace is rejected with this reason (no fallback)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


class Deferred(Exception):
    """This trace waits for queued work (``key`` -> request ``body``); run it again next pass."""

    def __init__(self, key: str, body: dict[str, Any]):
        super().__init__(key)
        self.key, self.body = key, body


class Postponed(Exception):
    """A transient failure (server down, timeouts): leave this trace pending for the next run."""


class StopRun(Exception):
    """Stop the run now, keeping what is done (the message says why; a re-run resumes)."""

    def __init__(self, message: str, exit_code: int = 0):
        super().__init__(message)
        self.exit_code = exit_code


#: One pass over every pending trace: returns (why it stopped early or None, deferred key -> body).
Pass = Callable[[], Awaitable[tuple[str | None, dict[str, dict[str, Any]]]]]


class Sample(NamedTuple):
    """One input row as a chooser sees it: the trace, and the row it came from (for a grouping field)."""

    trace: Trace
    row: dict[str, Any]


class Chooser(Protocol):
    """Chooses among the samples of each problem, having seen the whole input (``--method shortest-correct``)."""

    def choose(self, samples: Iterable[Sample]) -> None:
        """See every readable input row once, in input order, before any is pruned."""

    def verdict(self, sample: Sample) -> tuple[str, str] | None:
        """``(reason, detail)`` when ``sample`` is left out (another sample of its problem was chosen,
        or none could be), None for the one chosen."""


class Pruner(Protocol):
    """The interface every registered pruner has."""

    name: str
    concurrency: int  # traces in flight at once (1 for CPU-bound pruners)
    processes: bool  # may run in the stage's process pool (--workers); False for one that holds a model or a client
    chooser: Chooser | None  # picks one sample per problem before pruning (module docstring); None: every trace is pruned

    def open(self, out_dir: Path) -> None:
        """Acquire resources (API client, cache) for a run writing ``out_dir``."""

    async def prune(self, trace: Trace) -> Pruned:
        """Prune one trace; raise PruneFailed / Rejected / Deferred / StopRun as above."""

    def drive(self, one_pass: Pass) -> str | None:
        """Run the stage's passes (once, or in Batch API phases); returns why it stopped early."""

    def close(self) -> dict[str, Any]:
        """Release resources; returns what the manifest should record (usage, failures ...)."""


class OfflinePruner:
    """Base of pruners that run in this process: one trace at a time, nothing to open."""

    name = "offline"
    concurrency = 1
    processes = True  # may run in a process pool (--workers); False for a pruner that holds a model
    chooser: Chooser | None = None

    def open(self, out_dir: Path) -> None:
        return None

    def drive(self, one_pass: Pass) -> str | None:
        import asyncio

        stopped, _ = asyncio.run(one_pass())
        return stopped

    def close(self) -> dict[str, Any]:
        return {}
