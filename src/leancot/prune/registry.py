"""Pruners by name: ``leancot prune --method NAME``.

A plain registry (as lm-evaluation-harness keeps its models): name -> where the pruner
lives, the module it needs and the extra that installs it. Pruners are imported only
when chosen, so the offline path never imports the OpenAI SDK. A new method plugs in
with one entry here and a class with the ``leancot.prune.base.Pruner`` interface.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leancot.errors import UsageError
from leancot.extras import require
from leancot.prune.base import OfflinePruner, Pruned
from leancot.schema import Trace

if TYPE_CHECKING:
    from leancot.prune.base import Pruner
    from leancot.prune.stage import PruneConfig


@dataclass(frozen=True)
class Entry:
    factory: str  # "module:function" taking the PruneConfig, returning a Pruner
    requires: tuple[str, str] | None = None  # (module, extra) it needs
    summary: str = ""


PRUNERS: dict[str, Entry] = {
    "heuristic": Entry("leancot.prune.registry:heuristic", summary="offline DRP rules: skill-labelled steps, per-step actions"),
    "first-answer": Entry(
        "leancot.prune.registry:first_answer", summary="cut where the final answer is first derived; keep its derivation"
    ),
    "perplexity": Entry(
        "leancot.prune.registry:perplexity",
        ("torch", "train"),
        "drop the functional steps whose removal a scorer LM minds least (SPIRIT, PIR)",
    ),
    "llm": Entry("leancot.prune.registry:teacher", ("openai", "api"), "DRP by a teacher LLM behind an OpenAI-compatible endpoint"),
}


def make(name: str, config: PruneConfig) -> Pruner:
    """The pruner registered as ``name``, built from the stage's settings."""
    entry = PRUNERS.get(name)
    if entry is None:
        raise UsageError(f"unknown pruning method {name!r}; choose one of: {', '.join(PRUNERS)}")
    if entry.requires:
        require(*entry.requires)
    module, func = entry.factory.split(":")
    return getattr(importlib.import_module(module), func)(config)


class HeuristicPruner(OfflinePruner):
    """The offline DRP pruner (``leancot.prune.heuristic``): rules, no model, ~200 traces/s."""

    name = "heuristic"

    async def prune(self, trace: Trace) -> Pruned:
        from leancot.prune.heuristic import prune_trace

        steps, pruned = prune_trace(trace.reasoning, trace.answer, trace.question)
        return Pruned(steps, pruned, "heuristic")


def heuristic(config: PruneConfig) -> Pruner:
    return HeuristicPruner()


def first_answer(config: PruneConfig) -> Pruner:
    from leancot.prune.first_answer import FirstAnswerPruner

    return FirstAnswerPruner()


def perplexity(config: PruneConfig) -> Pruner:
    from leancot.prune.perplexity import PerplexityPruner, Settings

    settings = Settings(scorer=config.scorer, ratio=config.ratio, threshold=config.threshold,
                        batch_size=config.scorer_batch_size, max_tokens=config.scorer_max_tokens,
                        window=config.scorer_window, tokenizer=config.tokenizer)  # fmt: skip
    return PerplexityPruner(settings, workers=config.worker_count())


def teacher(config: PruneConfig) -> Pruner:
    from leancot.prune.teacher.pruner import TeacherPruner

    if config.teacher is None:
        raise UsageError("--method llm needs a teacher model: --teacher-model NAME")
    return TeacherPruner(config.teacher)
