"""Step-entropy pruning (``--method step-entropy``): drop the steps the scorer model was surest of.

A step's score is the mean entropy (nats) of a scorer language model's next-token distribution
over the step's tokens, teacher-forced on the original trace: the scorer reads its prompt (the
question, as ``--method perplexity`` renders it), then the reasoning, and at each token of the
step takes ``H(p) = -sum_v p_v log p_v`` of the distribution that predicts it. Low-entropy steps
carry little information the model could not have produced itself: Step Entropy (arXiv
2508.03346, ICLR 2026) prunes 80% of them with minor loss, while removing high-entropy or
random steps hurts.

The candidates are the perplexity pruner's (``leancot.prune.perplexity.candidates``): only steps
the answer's derivation does not depend on (the derivation graph, ``leancot.prune.select``). The
lowest-entropy candidates go first while the removed steps hold at most ``ratio`` of the
reasoning's tokens (a candidate that would pass the bound is skipped, a smaller one may still
fit), and only below ``max_entropy`` when one is set. As in every pruner, a passage the trace
retracted goes whatever its entropy (``leancot.prune.select.retracted_only``), on top of the ratio.
The stage verifies every path.

**One forward per trace.** Perplexity scores each removal after a cut; entropy needs the
original trace only, so every step's score comes from one teacher-forced pass over it (the
scorer's ``entropy``, the same batched loop and chunked head as its ``nll``). A trace longer than
``max_tokens`` is read in contexts of at most that many tokens (the question, then a stretch of
the path starting about half a context before the steps it scores), ``batch_size`` contexts per
forward.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from leancot.prune.base import Pruned
from leancot.prune.perplexity import ModelScorer, Scorer, ScorerPruner, _chunks, prune_scored, scored_pieces, scoring_layout
from leancot.schema import Step, Trace


class StepEntropyOptions(BaseModel):
    """Options of ``--method step-entropy`` (flags ``--scorer``, ``--ratio`` ...; ``stages.prune.step_entropy`` in a recipe)."""

    model_config = ConfigDict(extra="forbid")
    #: The flags it shares with ``--method perplexity`` keep their names: ``--scorer``, ``--ratio``, ``--scorer-*``.
    FLAG_NAMES: ClassVar[dict[str, str]] = {"batch_size": "scorer-batch-size", "max_tokens": "scorer-max-tokens"}
    not_fingerprinted: ClassVar[set[str]] = {"batch_size"}  # how fast, not what comes out

    scorer: str = Field("smollm2-135m", description="The causal LM that scores the steps (built-in name or local dir).")
    ratio: float = Field(0.5, gt=0, le=1, description="Remove at most this share of the reasoning's tokens.")
    max_entropy: float | None = Field(
        None, ge=0, description="Remove only steps whose mean token entropy is below this (nats; default: no bound, only --ratio)."
    )
    batch_size: int = Field(8, ge=1, description="Scoring contexts (stretches of a long trace) per forward.")
    max_tokens: int = Field(
        2048,
        ge=256,
        description="Tokens in one scoring context (question + a stretch of the path); longer traces are scored in overlapping chunks.",
    )

    def fingerprint_config(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=self.not_fingerprinted)


def step_entropy(
    scorer: Scorer, prompt: list[int], pieces: list[list[int]], steps: list[int], *, max_tokens: int = 2048
) -> dict[int, float]:
    """Mean next-token entropy (nats) over the tokens of each piece in ``steps``, teacher-forced after ``prompt``.

    ``prompt``: the scorer's prompt ids (non-empty: something predicts the first step's first token);
    ``pieces``: the ids of every step (then anything after), which concatenate to the scored path. The
    contexts hold at most ``max_tokens`` tokens (the module docstring); all go to ``scorer.entropy`` in one
    call. A piece with no tokens inside its context gets ``inf`` (never removed)."""
    prompt, path, offsets = scoring_layout(prompt, pieces, max_tokens)
    contexts = _chunks(offsets, sorted(steps), max_tokens - len(prompt), window=0)  # a step needs no tokens after it
    entropies = scorer.entropy([prompt + path[start:stop] for start, stop, _ in contexts]) if contexts else []
    out: dict[int, float] = {}
    for (start, stop, members), ent in zip(contexts, entropies):
        shift = len(prompt) - start
        for d in members:
            # ent[j - 1] is the entropy of the distribution that predicts token j of the context
            values = ent[offsets[d] + shift - 1 : min(offsets[d + 1], stop) + shift - 1]
            out[d] = sum(values) / len(values) if values else math.inf
    return out


def prune_step_entropy(
    reasoning: str,
    answer: str | None,
    question: str,
    scorer: ModelScorer | Any,
    settings: StepEntropyOptions,
    tokenizer: str = "smollm2-135m",
) -> tuple[list[Step], str, list[float | None]]:
    """``(steps with actions, pruned path, mean entropy per step: None for a step that is no candidate)``.

    ``scorer`` needs ``prompt_ids(question)``, ``piece_ids(texts)`` and ``entropy`` (``Scorer``); ``tokenizer``
    counts the tokens the ratio bounds (the stage's)."""

    def entropy(steps: list[Step], cands: list[int]) -> dict[int, float]:
        pieces = scorer.piece_ids(scored_pieces(steps, answer)[: len(steps)])  # the answer line is never scored
        return step_entropy(scorer, scorer.prompt_ids(question), pieces, cands, max_tokens=settings.max_tokens)

    bound = settings.max_entropy if settings.max_entropy is not None else math.inf
    return prune_scored(reasoning, answer, question, entropy, settings.ratio, bound, tokenizer)


class StepEntropyPruner(ScorerPruner):
    """``--method step-entropy``: remove the candidate steps of lowest mean token entropy under a scorer model."""

    name = "step-entropy"

    def __init__(self, settings: StepEntropyOptions, *, tokenizer: str = "smollm2-135m", workers: int = 1, scorer: Scorer | None = None):
        super().__init__(self.name, settings.scorer, settings.batch_size, workers=workers, scorer=scorer)
        self.settings, self.tokenizer = settings, tokenizer

    async def prune(self, trace: Trace) -> Pruned:
        steps, pruned, scores = prune_step_entropy(
            trace.reasoning, trace.answer, trace.question, self.scorer, self.settings, self.tokenizer
        )
        self.traces += 1
        return Pruned(steps, pruned, self.method, extra={"entropy": scores})
