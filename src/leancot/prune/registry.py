"""Pruners by name: ``leancot prune --method NAME``.

A plain registry (as lm-evaluation-harness keeps its models): name -> where the pruner
lives, the module it needs and the extra that installs it, and its own options model. Pruners
are imported only when chosen, so the offline path never imports the OpenAI SDK.

A pruner's options (``PerplexityOptions``, ``TeacherConfig``) are one nested block of
``PruneConfig`` named by ``Entry.field``: validated against the pruner's model, shown in their own
``--help`` panel (flag names from the model's ``FLAG_NAMES``), refused under another ``--method``,
and fingerprinted only when their pruner runs. A flag name two pruners' options share (``--scorer``,
``--ratio``) is one flag, in a panel of its own, that fills the block of whichever method is chosen.

How to add a pruner:

1. a class with the ``leancot.prune.base.Pruner`` interface (``OfflinePruner`` for one that runs
   in this process) and a factory ``make_x(config: PruneConfig) -> Pruner``;
2. one entry here; if it has options, a pydantic model (``extra="forbid"``, ``FLAG_NAMES``,
   ``fingerprint_config``) named in the entry, and a field of that name in ``PruneConfig``.
3. a pruner that chooses among the samples of a problem before pruning (``shortest-correct``) has a
   ``chooser`` (``leancot.prune.base.Chooser``): the stage shows it the whole input first.

The stage verifies its paths like every pruner's (``leancot.prune.verify.verify_path``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from leancot.errors import UsageError
from leancot.extras import require
from leancot.prune.base import OfflinePruner, Pruned
from leancot.schema import Trace

if TYPE_CHECKING:
    from leancot.prune.base import Pruner
    from leancot.prune.config import PruneConfig


@dataclass(frozen=True)
class Entry:
    factory: str  # "module:function" taking the PruneConfig, returning a Pruner
    requires: tuple[str, str] | None = None  # (module, extra) it needs
    summary: str = ""
    options: str | None = None  # "module:Model" of its options, held in the PruneConfig field ``field``
    field: str | None = None
    needs: str = ""  # what to say when the options cannot be made from their defaults

    def options_model(self) -> type[BaseModel] | None:
        if self.options is None:
            return None
        module, name = self.options.split(":")
        return getattr(importlib.import_module(module), name)


PRUNERS: dict[str, Entry] = {
    "heuristic": Entry("leancot.prune.registry:heuristic", summary="offline DRP rules: skill-labelled steps, per-step actions"),
    "first-answer": Entry(
        "leancot.prune.registry:first_answer", summary="cut where the final answer is first derived; keep its derivation"
    ),
    "perplexity": Entry(
        "leancot.prune.registry:perplexity",
        ("torch", "train"),
        "drop the functional steps whose removal a scorer LM minds least (SPIRIT, PIR)",
        options="leancot.prune.perplexity:PerplexityOptions",
        field="perplexity",
    ),
    "step-entropy": Entry(
        "leancot.prune.registry:step_entropy",
        ("torch", "train"),
        "drop the candidate steps of lowest token entropy under a scorer LM (Step Entropy)",
        options="leancot.prune.step_entropy:StepEntropyOptions",
        field="step_entropy",
    ),
    "shortest-correct": Entry(
        "leancot.prune.shortest:make_pruner",
        summary="of each problem's samples keep the shortest correct one, whole or pruned by --then (on-policy data)",
        options="leancot.prune.shortest:ShortestCorrectOptions",
        field="shortest_correct",
    ),
    "llm": Entry(
        "leancot.prune.registry:teacher",
        ("openai", "api"),
        "DRP by a teacher LLM behind an OpenAI-compatible endpoint",
        options="leancot.prune.teacher.config:TeacherConfig",
        field="teacher",
        needs="--method llm needs a teacher model: --teacher-model NAME",
    ),
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
    from leancot.prune.perplexity import PerplexityPruner

    assert config.perplexity is not None, "PruneConfig fills in the options of the chosen method"
    return PerplexityPruner(config.perplexity, tokenizer=config.tokenizer, workers=config.worker_count())


def step_entropy(config: PruneConfig) -> Pruner:
    from leancot.prune.step_entropy import StepEntropyPruner

    assert config.step_entropy is not None, "PruneConfig fills in the options of the chosen method"
    return StepEntropyPruner(config.step_entropy, tokenizer=config.tokenizer, workers=config.worker_count())


def teacher(config: PruneConfig) -> Pruner:
    from leancot.prune.teacher.pruner import TeacherPruner

    assert config.teacher is not None, "PruneConfig refuses --method llm without a teacher"
    return TeacherPruner(config.teacher)
