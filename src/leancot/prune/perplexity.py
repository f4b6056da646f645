"""Perplexity pruning (``--method perplexity``): drop the functional steps a scorer model finds least needed.

A step's *importance* is how much a scorer language model's negative log-likelihood of what
follows it rises when the step is removed (SPIRIT): ``mean NLL(rest | path without the step)
- mean NLL(rest | path with it)``, in nats per token over the same tokens (0.05 is about a 5%
rise in perplexity). Only *functional* steps are candidates (LIMOPro/PIR): in leancot's skill
names

- ``verification`` (re-checks), ``restatement``, ``hesitation`` and ``final_answer`` (the path
  closes with the answer anyway);
- abandoned detours: the steps of an ``Alternatively ...`` approach nothing needed uses, and
  every step after the one that first reaches the answer (re-derivations, second methods);
- self-correction of a slip: the value a later ``self_correction`` replaces, and the
  correction itself when nothing later uses what it states;

and never a step the answer's derivation depends on (the heuristic pruner's number tracking,
``leancot.prune.heuristic``). The least important candidates go, in order, while the removed
steps hold at most ``ratio`` of the reasoning's tokens (a candidate that would pass the bound is
skipped, a smaller one may still fit) and their importance is below ``threshold``. Kept steps stay
verbatim and the path closes with ``The answer is \\boxed{X}``; the prune stage verifies it.

The scored text is the scorer's chat prompt (the question, ``<think>``) then the steps joined by
line breaks and the closing answer line; each step is tokenized on its own, so removing one
removes exactly its tokens.

**Truncation.** The "rest" scored for a step is the next ``window`` tokens after it (the answer
line included when it falls inside): a step's effect on a small scorer is local, and this
bounds the work per candidate. One scoring context holds at most ``max_tokens`` tokens: the
question (its last ``max_tokens // 4`` tokens when longer) and a stretch of the path that
starts at a step boundary about half a context before the candidate, so every candidate of a
long trace sees at least ~``max_tokens / 2`` tokens of what precedes it (all of it in a trace
that fits). Candidates are grouped into as few such contexts (chunks) as cover them.

**Batching and the KV cache.** Each chunk is run once with the cache kept: that forward gives
the "with" NLL of every target at once. Each removal then needs only its target tokens: they
are fed after the cached chunk with the removed step and everything after it masked out and
positions that close the gap, ``batch_size`` removals per forward (right padding). Without the
cache each removal re-runs the chunk's prefix; ``benchmarks/perplexity_speed.py`` measures
both (``Scorer.score`` is the uncached reference, ``ModelScorer`` overrides it).
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from leancot.prune import derivation
from leancot.prune.base import OfflinePruner, Pruned
from leancot.prune.heuristic import _answered_doubts, _detours, _needed, _root, _significant, _superseded, _without, synthesise
from leancot.prune.segment import decompose
from leancot.prune.select import retracted_only
from leancot.prune.select import select as choose
from leancot.prune.verify import numbers_in
from leancot.schema import Step, Trace

log = logging.getLogger(__name__)

FUNCTIONAL = frozenset({"verification", "restatement", "hesitation", "final_answer", "self_correction"})
Cut = tuple[int, int, int]  # (a, b, e): remove base[a:b], score base[b:e]


# --------------------------------------------------------------------------- which steps may go


def candidates(steps: list[Step], answer: str | None, question: str = "", reasoning: str | None = None) -> list[int]:
    """Indices of the functional steps that nothing the answer needs depends on (module docstring).

    The answer's derivation comes from the derivation graph (``leancot.prune.select``): a step
    that holds a sentence the path keeps is never a candidate; one that holds a computation the
    answer does not need, or that comes after the answer, is. A trace whose answer no computation
    derives falls back to the heuristic pruner's number tracking."""
    reasoning = reasoning if reasoning is not None else "\n\n".join(s.text for s in steps)
    chosen = choose(derivation.build(reasoning, question, answer), steps)
    if chosen is not None:
        after = chosen.root_step if chosen.root_step is not None else len(steps)
        return [
            i
            for i, s in enumerate(steps)
            if not chosen.kept_in(i) and (s.skill in FUNCTIONAL or set(chosen.step_sentences[i]) & chosen.drop or i > after)
        ]
    q_numbers = numbers_in(question)
    nums = [_significant(numbers_in(s.text)) - q_numbers for s in steps]
    doubts = _answered_doubts(steps)
    superseded = _superseded(steps) | set(doubts)
    root = _root(steps, answer)
    needed = _needed(steps, nums, superseded, root, corrections=set(doubts.values()))
    detour = _detours(steps, needed)
    after_root = (lambda i: i > root) if root is not None else (lambda i: False)
    return [i for i, s in enumerate(steps) if i not in needed and (s.skill in FUNCTIONAL or i in superseded or detour[i] or after_root(i))]


def select(importance: dict[int, float], tokens: Sequence[int], ratio: float, threshold: float) -> set[int]:
    """The candidates to remove: least important first, below ``threshold``, at most ``ratio`` of ``sum(tokens)``.

    ``importance``: candidate step index -> score (``inf``: could not be scored, never removed);
    ``tokens``: every step's token count."""
    budget = ratio * sum(tokens)
    removed, gone = set(), 0
    for i in sorted(importance, key=lambda i: (importance[i], i)):
        if not importance[i] < threshold:
            break
        if gone + tokens[i] <= budget:  # a larger one that does not fit is skipped; a smaller one may
            removed.add(i)
            gone += tokens[i]
    return removed


# --------------------------------------------------------------------------- scoring


class Scorer:
    """Per-token negative log-likelihoods of token sequences (nats); subclasses supply ``nll``.

    ``score`` is the reference for what a removal does: one sequence per cut, all in one call.
    """

    def nll(self, seqs: list[list[int]]) -> list[list[float]]:
        """For each sequence ``s``, the NLL of ``s[1:]`` given what precedes each token (``len(s) - 1`` values)."""
        raise NotImplementedError

    def entropy(self, seqs: list[list[int]]) -> list[list[float]]:
        """For each sequence ``s``, the entropy (nats) of the next-token distribution that predicts each of
        ``s[1:]`` (``len(s) - 1`` values, aligned with ``nll``); ``--method step-entropy`` scores with it."""
        raise NotImplementedError

    def score(self, base: list[int], cuts: list[Cut]) -> tuple[list[float], list[list[float]]]:
        """``(NLL of base[1:], for each cut (a, b, e) the NLL of base[b:e] once base[a:b] is removed)``."""
        out = self.nll([base] + [base[:a] + base[b:e] for a, b, e in cuts])
        return out[0], [o[a - 1 : a - 1 + e - b] for o, (a, b, e) in zip(out[1:], cuts)]


def scoring_layout(prompt: list[int], pieces: list[list[int]], max_tokens: int) -> tuple[list[int], list[int], list[int]]:
    """``(prompt, path, offsets)`` for scoring ``pieces`` after ``prompt``: the prompt cut to its last quarter of
    ``max_tokens`` at most (the path needs the room), the pieces joined, and where each piece starts (then the end)."""
    if not prompt:
        raise ValueError("the scorer's prompt must hold at least one token")
    prompt = prompt[-(max_tokens // 4) :] if len(prompt) > max_tokens // 4 else prompt
    path = [t for p in pieces for t in p]
    offsets = [0]
    for p in pieces:
        offsets.append(offsets[-1] + len(p))
    return prompt, path, offsets


def removal_importance(
    scorer: Scorer, prompt: list[int], pieces: list[list[int]], cands: list[int], *, max_tokens: int = 2048, window: int = 128
) -> dict[int, float]:
    """Importance of removing each piece in ``cands``: the rise of the mean NLL of the next ``window``
    tokens (nats/token), in contexts of at most ``max_tokens`` tokens (see the module docstring).

    ``prompt``: the scorer's prompt ids (non-empty); ``pieces``: the ids of every step, then the
    answer line, which concatenate to the scored path. A candidate with nothing to score after it
    inside its context gets ``inf``."""
    prompt, path, offsets = scoring_layout(prompt, pieces, max_tokens)
    out: dict[int, float] = {}
    for start, stop, members in _chunks(offsets, sorted(cands), max_tokens - len(prompt), window):
        base = prompt + path[start:stop]
        shift = len(prompt) - start
        cuts = [(offsets[d] + shift, offsets[d + 1] + shift, min(offsets[d + 1] + shift + window, len(base))) for d in members]
        scorable = [k for k, (a, b, e) in enumerate(cuts) if e > b]
        with_nll, without = scorer.score(base, [cuts[k] for k in scorable]) if scorable else ([], [])
        for d in members:
            out[d] = math.inf
        for k, nll in zip(scorable, without):
            a, b, e = cuts[k]
            out[members[k]] = sum(nll) / len(nll) - sum(with_nll[b - 1 : e - 1]) / (e - b)
    return out


def _chunks(offsets: list[int], cands: list[int], budget: int, window: int) -> list[tuple[int, int, list[int]]]:
    """``(start, stop, members)``: path token ranges of at most ``budget`` tokens covering the sorted ``cands``.

    A chunk starts at the step boundary nearest to half a budget before its first candidate, and
    takes the next candidates whose whole target window fits (their ends only grow, so the first
    that does not fit starts the next chunk)."""
    total, chunks, k = offsets[-1], [], 0
    while k < len(cands):
        first = cands[k]
        lo = bisect.bisect_left(offsets, max(0, offsets[first] - budget // 2), 0, first)
        start = offsets[lo]
        stop = min(start + budget, total)
        members = [first]
        for d in cands[k + 1 :]:
            end = offsets[d + 1]
            if end + min(window, total - end) > stop:
                break
            members.append(d)
        chunks.append((start, stop, members))
        k += len(members)
    return chunks


class ModelScorer(Scorer):
    """A causal LM from ``leancot.models.resolve(spec)``, loaded on first use (torch imported then).

    ``use_cache=True`` scores removals after one cached forward of the chunk (module docstring);
    ``False`` runs the reference ``Scorer.score``, one padded sequence per removal."""

    def __init__(self, spec: str, *, batch_size: int = 8, use_cache: bool = True, threads: int | None = None):
        self.spec, self.batch_size, self.use_cache, self.threads = spec, batch_size, use_cache, threads
        self.model: Any = None
        self.tokenizer: Any = None
        self.seconds = 0.0  # spent in forwards
        self.tokens = 0  # tokens run through the scorer

    def load(self) -> None:
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from leancot.models import resolve

        if self.threads:
            torch.set_num_threads(self.threads)
        path = str(resolve(self.spec))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        log.info("perplexity scorer %s loaded from %s", self.spec, path)

    def prompt_ids(self, question: str) -> list[int]:
        """The scorer's prompt: its chat template with the question and the generation prompt, then ``<think>``."""
        self.load()
        tok = self.tokenizer
        if tok.chat_template:
            text = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False)
        else:
            text = f"Question: {question}\nAnswer:\n"
        text += "" if text.rstrip().endswith("<think>") else "<think>\n"
        return list(tok(text, add_special_tokens=False)["input_ids"])

    def piece_ids(self, pieces: list[str]) -> list[list[int]]:
        self.load()
        return [list(ids) for ids in self.tokenizer(pieces, add_special_tokens=False)["input_ids"]]

    # -- forwards

    def _token_nll(self, hidden: Any, targets: Any) -> Any:
        """NLL of ``targets`` (N,) under the head applied to ``hidden`` (N, H)."""
        return head_scores(hidden, self.model.get_output_embeddings(), targets, cap=self._cap())[0]

    def _cap(self) -> float | None:
        return getattr(self.model.config, "final_logit_softcapping", None)

    def nll(self, seqs: list[list[int]]) -> list[list[float]]:
        return [nll for nll, _ in self._forward(seqs, entropy=False)]

    def entropy(self, seqs: list[list[int]]) -> list[list[float]]:
        return [ent for _, ent in self._forward(seqs, entropy=True)]

    def _forward(self, seqs: list[list[int]], *, entropy: bool) -> list[tuple[list[float], list[float]]]:
        """The one scoring loop: ``(NLL, entropy or [])`` of each sequence's ``s[1:]``, ``batch_size`` sequences
        per forward (right padding), both from the same logits (``head_scores``)."""
        import torch

        self.load()
        out: list[tuple[list[float], list[float]]] = [([], []) for _ in seqs]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))  # like lengths together: less padding
        head, cap = self.model.get_output_embeddings(), self._cap()
        started = time.perf_counter()
        with torch.inference_mode():
            for k in range(0, len(order), self.batch_size):
                rows = order[k : k + self.batch_size]
                width = len(seqs[rows[0]])
                ids = torch.zeros(len(rows), width, dtype=torch.long)
                mask = torch.zeros(len(rows), width, dtype=torch.long)
                for r, i in enumerate(rows):
                    ids[r, : len(seqs[i])] = torch.tensor(seqs[i])
                    mask[r, : len(seqs[i])] = 1
                hidden = self.model.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
                for r, i in enumerate(rows):
                    n = len(seqs[i])
                    nll, ent = head_scores(hidden[r, : n - 1], head, ids[r, 1:n], cap=cap, entropy=entropy)
                    out[i] = (nll.tolist(), ent.tolist() if ent is not None else [])
                self.tokens += int(mask.sum())
        self.seconds += time.perf_counter() - started
        return out

    def score(self, base: list[int], cuts: list[Cut]) -> tuple[list[float], list[list[float]]]:
        if not self.use_cache:
            return super().score(base, cuts)
        import torch

        self.load()
        started = time.perf_counter()
        decoder = self.model.get_decoder()
        with torch.inference_mode():
            ids = torch.tensor([base])
            res = decoder(input_ids=ids, use_cache=True)
            hidden, cache = res.last_hidden_state[0], getattr(res, "cache", None) or res.past_key_values
            with_nll = self._token_nll(hidden[:-1], ids[0, 1:]).tolist()
            # the first target token is predicted by the last token before the cut: the same state as in the base
            firsts = self._token_nll(hidden[[a - 1 for a, _, _ in cuts]], ids[0, [b for _, b, _ in cuts]]).tolist()
            without = [[f] for f in firsts]
            for k in range(0, len(cuts), self.batch_size):
                self._continue(base, cuts[k : k + self.batch_size], cache, without[k : k + self.batch_size])
            self.tokens += len(base) + sum(e - b - 1 for _, b, e in cuts)
        self.seconds += time.perf_counter() - started
        return with_nll, without

    def _continue(self, base: list[int], cuts: list[Cut], cache: Any, out: list[list[float]]) -> None:
        """Append to each ``out[r]`` the NLL of ``base[b+1:e]``, fed after the cached base with ``base[a:]`` masked."""
        import torch
        from transformers import DynamicCache

        width = max(e - b - 1 for _, b, e in cuts)
        if width == 0:
            return
        # keys from the first cut on are masked in every row: attend only to the cache before it
        n, rows = max(a for a, _, _ in cuts), len(cuts)
        ids = torch.zeros(rows, width, dtype=torch.long)
        mask = torch.ones(rows, n + width, dtype=torch.long)
        pos = torch.zeros(rows, width, dtype=torch.long)
        for r, (a, b, e) in enumerate(cuts):
            ids[r, : e - b - 1] = torch.tensor(base[b : e - 1])
            mask[r, a:n] = 0  # the removed step and the base's own copy of the rest
            mask[r, n + e - b - 1 :] = 0  # padding
            pos[r] = torch.arange(a, a + width)  # the rest moves up to where the step began
        # a view per row of the one cached chunk; the forward concatenates the new keys onto it
        data = [(layer.keys[:, :, :n].expand(rows, -1, -1, -1), layer.values[:, :, :n].expand(rows, -1, -1, -1))
                for layer in cache.layers]  # fmt: skip
        kv = DynamicCache(ddp_cache_data=data, config=self.model.config)
        decoder = self.model.get_decoder()
        hidden = decoder(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                         **{_cache_kwarg(decoder): kv}).last_hidden_state  # fmt: skip
        for r, (a, b, e) in enumerate(cuts):
            if e - b - 1 > 0:
                out[r].extend(self._token_nll(hidden[r, : e - b - 1], torch.tensor(base[b + 1 : e])).tolist())


def _cache_kwarg(decoder: Any) -> str:
    """``cache`` (transformers >= 5.24) or ``past_key_values`` (before; deprecated since)."""
    import inspect

    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


HEAD_ROWS = 1024  # the full (N, vocab) float32 logits of a 2k context would take 400 MB; 1024 rows take 200


def head_scores(hidden: Any, head: Any, targets: Any, *, cap: float | None = None, entropy: bool = False,
                rows: int = HEAD_ROWS) -> tuple[Any, Any]:  # fmt: skip
    """``(NLL of targets, entropy or None)``, both (N,) in nats, from the logits ``head(hidden)``, ``rows`` at a time.

    ``hidden``: (N, H) final hidden states; ``head``: the LM head (H -> V); ``targets``: (N,) the token each
    row predicts; ``cap``: the model's final-logit soft-capping. The entropy of row ``n`` is that of the
    next-token distribution ``p = softmax(z_n)``: ``H = logsumexp(z) - sum_v p_v z_v`` (the logsumexp the
    NLL takes anyway, and no second (rows, V) temporary for ``p log p``). Logits must be finite."""
    import torch

    nll, ent = [], []
    for i in range(0, hidden.shape[0], rows):
        logits = head(hidden[i : i + rows]).float()
        if cap:
            logits = torch.tanh(logits / cap) * cap
        lse = torch.logsumexp(logits, -1)
        nll.append(lse - logits.gather(-1, targets[i : i + rows, None])[:, 0])
        if entropy:
            probs = torch.exp(logits - lse[:, None])
            ent.append(lse - torch.einsum("nv,nv->n", probs, logits))
    empty = hidden.new_zeros(0, dtype=torch.float32)
    return (torch.cat(nll) if nll else empty), ((torch.cat(ent) if ent else empty) if entropy else None)


# --------------------------------------------------------------------------- the pruner


class PerplexityOptions(BaseModel):
    """Options of ``--method perplexity`` (flags ``--scorer``, ``--ratio`` ...; ``stages.prune.perplexity`` in a recipe)."""

    model_config = ConfigDict(extra="forbid")
    #: Flag names that differ from the field names (the pruner's options keep the flags they always had).
    FLAG_NAMES: ClassVar[dict[str, str]] = {"batch_size": "scorer-batch-size", "max_tokens": "scorer-max-tokens", "window": "scorer-window"}
    not_fingerprinted: ClassVar[set[str]] = {"batch_size"}  # how fast, not what comes out

    scorer: str = Field("smollm2-135m", description="The causal LM that scores the steps (built-in name or local dir).")
    ratio: float = Field(0.3, gt=0, le=1, description="Remove at most this share of the reasoning's tokens.")
    threshold: float = Field(
        0.05,
        description="Remove only steps whose removal raises the scorer's NLL of the next tokens by less than this (nats/token; 0.05 ~ 5% perplexity).",
    )
    batch_size: int = Field(8, ge=1, description="Step removals scored per forward.")
    max_tokens: int = Field(
        2048,
        ge=256,
        description="Tokens in one scoring context (question + a stretch of the path); longer traces are scored in overlapping chunks.",
    )
    window: int = Field(128, ge=1, description="Tokens after a step whose NLL measures its importance.")

    def fingerprint_config(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=self.not_fingerprinted)


def prune_perplexity(
    reasoning: str,
    answer: str | None,
    question: str,
    scorer: ModelScorer | Any,
    settings: PerplexityOptions,
    tokenizer: str = "smollm2-135m",
) -> tuple[list[Step], str, list[float | None]]:
    """``(steps with actions, pruned path, importance per step: None for a step that is no candidate)``.

    ``scorer`` needs ``prompt_ids(question)``, ``piece_ids(texts)`` and the ``Scorer`` interface; ``tokenizer``
    counts the tokens the ratio bounds (the stage's)."""

    def importance(steps: list[Step], cands: list[int]) -> dict[int, float]:
        return removal_importance(scorer, scorer.prompt_ids(question), scorer.piece_ids(scored_pieces(steps, answer)),
                                  cands, max_tokens=settings.max_tokens, window=settings.window)  # fmt: skip

    return prune_scored(reasoning, answer, question, importance, settings.ratio, settings.threshold, tokenizer)


def scored_pieces(steps: list[Step], answer: str | None) -> list[str]:
    """The texts a scorer reads after its prompt: every step on its own line, then the closing answer line."""
    pieces = [("\n" if i else "") + s.text for i, s in enumerate(steps)]
    pieces.append(f"\nThe answer is \\boxed{{{answer}}}" if answer is not None else "")
    return pieces


def prune_scored(
    reasoning: str,
    answer: str | None,
    question: str,
    score: Callable[[list[Step], list[int]], dict[int, float]],
    ratio: float,
    threshold: float,
    tokenizer: str = "smollm2-135m",
) -> tuple[list[Step], str, list[float | None]]:
    """What every scoring pruner shares: the candidates, the lowest ``score(steps, candidates)`` removed first
    (``select``), the retracted passages gone, the path closed with the answer.

    Returns ``(steps with actions, pruned path, score per step: None for a step that is no candidate or has
    no score)``."""
    from leancot.tokens import count_tokens_batch

    steps = [s.model_copy(update={"action": "keep", "rewritten": None}) for s in decompose(reasoning, question)]
    cands = candidates(steps, answer, question, reasoning)
    scores = score(steps, cands) if cands else {}
    tokens = count_tokens_batch([s.text for s in steps], tokenizer) if steps else []
    for i in select(scores, tokens, ratio, threshold):
        steps[i].action = "delete"
    graph = derivation.build(reasoning, question, answer)
    _without(steps, retracted_only(graph, steps), question, compress=False)  # a retracted passage never stays
    per_step = [None if i not in scores or math.isinf(scores[i]) else round(scores[i], 4) for i in range(len(steps))]
    return steps, synthesise(steps, answer), per_step


class ScorerPruner(OfflinePruner):
    """Base of the pruners that hold one scorer model (``perplexity``, ``step-entropy``): loaded once, batched on
    all cores, so no process pool; the manifest records the scorer and what it ran."""

    processes = False

    def __init__(self, name: str, spec: str, batch_size: int, *, workers: int = 1, scorer: Scorer | None = None):
        threads = None
        import multiprocessing

        if multiprocessing.parent_process() is not None and workers > 1:
            threads = max(1, len(os.sched_getaffinity(0)) // workers)  # one of the stage's pool processes: its share
        self.spec = spec
        self.scorer = scorer or ModelScorer(spec, batch_size=batch_size, threads=threads)
        local = Path(spec).expanduser()
        self.method = f"{name}:{local.name if local.is_dir() else spec}"
        self.traces = 0

    def close(self) -> dict[str, Any]:
        """The scorer, and what it ran in this process (nothing here when the stage's pool pruned)."""
        info: dict[str, Any] = {"model": self.spec}
        if self.traces:
            info.update(
                traces=self.traces, tokens=getattr(self.scorer, "tokens", None), seconds=round(getattr(self.scorer, "seconds", 0.0), 2)
            )
        return {"scorer": info}


class PerplexityPruner(ScorerPruner):
    """``--method perplexity``: remove the functional steps whose removal a scorer model minds least."""

    name = "perplexity"

    def __init__(self, settings: PerplexityOptions, *, tokenizer: str = "smollm2-135m", workers: int = 1, scorer: Scorer | None = None):
        super().__init__(self.name, settings.scorer, settings.batch_size, workers=workers, scorer=scorer)
        self.settings, self.tokenizer = settings, tokenizer

    async def prune(self, trace: Trace) -> Pruned:
        steps, pruned, scores = prune_perplexity(trace.reasoning, trace.answer, trace.question, self.scorer, self.settings, self.tokenizer)
        self.traces += 1
        return Pruned(steps, pruned, self.method, extra={"importance": scores})
