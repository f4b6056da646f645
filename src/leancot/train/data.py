"""Training data: records -> (prompt, cot, answer) token sections -> masked, truncated examples.

A sequence is the student's chat-template prompt, then ``<think>\\n`` reasoning (the ``cot``
section), then ``\\n</think>\\n\\n``, the answer text and the end-of-turn token (the ``answer``
section). The closing tag is tokenised with the answer, so a lead-span cut of the reasoning
(``lsp-cot``) still closes its thinking before answering; which section its tokens *count* as for
the loss is ``think_close`` (``answer`` by default; ``cot`` as the Essence collator counts it).
``build_example`` is the one pure function that decides which tokens are kept (lead-span
truncation, length cap or filter) and which carry the loss (labels are -100 elsewhere). ``preflight`` applies it under every policy to report what each
would do; ``PadToLongest`` pads a batch only to its own longest sequence, so a truncated
dataset really costs fewer tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from leancot.io import FIELD_ALIASES

IGNORE_INDEX = -100
SECTIONS = ("prompt", "cot", "answer")
POLICIES = ("none", "lsp", "lsp-cot", "cut", "drop")
LENGTH_FILTERS = ("cut", "drop")
THINK_CLOSE_SECTIONS = ("answer", "cot")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# The Essence collator's ``section_inclusion`` names (fmchisel src/fmchisel/data/collator.py), as
# leancot sections. The official masks count <think> ... </think> as chain of thought (pair these
# with think_close="cot"); its "cot" / "promptCot" also keep the one token after </think>.
LOSS_PRESETS: dict[str, tuple[str, ...]] = {
    "promptcotAns": ("prompt", "cot", "answer"),
    "cotAns": ("cot", "answer"),
    "ans": ("answer",),
    "promptAns": ("prompt", "answer"),
    "cot": ("cot",),
    "promptCot": ("prompt", "cot"),
}


def loss_sections(value: str | Iterable[str]) -> list[str]:
    """``"cot,answer"``, ``["prompt", "cot"]`` or an official name (``"promptcotAns"``) -> sections in order.

    Raises ValueError for an empty value or an unknown name.
    """
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    items = [v for v in items if v]
    if len(items) == 1 and items[0] in LOSS_PRESETS:
        return list(LOSS_PRESETS[items[0]])
    if not items or not set(items) <= set(SECTIONS):
        raise ValueError(
            f"loss sections must be a non-empty subset of {', '.join(SECTIONS)} or one of {', '.join(LOSS_PRESETS)}; got {value!r}"
        )
    return [name for name in SECTIONS if name in items]


# --------------------------------------------------------------------------- the pure function


def build_example(
    prompt_ids: Sequence[int],
    cot_ids: Sequence[int],
    answer_ids: Sequence[int],
    *,
    loss_on: str | Iterable[str] = ("cot", "answer"),
    policy: str = "lsp",
    lsp: float = 1.0,
    max_length: int | None = None,
    length_filter: str = "cut",
    think_close: str = "answer",
    close_tokens: int = 0,
) -> tuple[list[int], list[int]] | None:
    """Concatenate the sections, truncate by ``policy`` and mask the labels.

    Policies (``max_length``, when given, is a hard cap applied after the policy's own cut):

    - ``lsp``: keep the first ``max(1, int(L * lsp))`` tokens of the whole sequence (the Essence
      code's ``included_first_x_percent``, rounding included);
    - ``lsp-cot``: keep the prompt, the first ``ceil(lsp * |cot|)`` reasoning tokens and the whole
      answer; under a cap the reasoning is shortened further so the answer still fits;
    - ``cut``: cut at ``max_length``; ``drop``: skip a sequence longer than ``max_length``;
    - ``none``: keep everything (``max_length`` must be None).

    ``length_filter="drop"`` first skips every sequence longer than ``max_length`` and then applies
    the policy to what is left (the Essence code: drop over 4k tokens, then LSP); ``"cut"`` (default)
    applies the cap after the policy. ``loss_on``: sections or an official ``section_inclusion`` name
    (``LOSS_PRESETS``). ``close_tokens``: how many leading answer tokens are the ``</think>`` tag
    (``think_close_tokens``); ``think_close="cot"`` labels them as chain of thought, ``"answer"`` as
    answer. Truncation never depends on it: ``lsp-cot`` always keeps the tag.

    Returns ``(input_ids, labels)`` of equal length with ``labels[i] = input_ids[i]`` where token i
    is in a section of ``loss_on`` and -100 elsewhere (the model shifts labels by one itself), or
    None when the sequence is dropped or would train no token (no label after position 0).
    """
    loss_on = set(loss_sections(loss_on))
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; one of {POLICIES}")
    if length_filter not in LENGTH_FILTERS:
        raise ValueError(f"unknown length_filter {length_filter!r}; one of {LENGTH_FILTERS}")
    if think_close not in THINK_CLOSE_SECTIONS:
        raise ValueError(f"think_close must be one of {THINK_CLOSE_SECTIONS}, got {think_close!r}")
    if not 0.0 < lsp <= 1.0:
        raise ValueError(f"lsp must be in (0, 1], got {lsp}")
    if policy == "none" and max_length is not None:
        raise ValueError("policy 'none' takes no max_length")
    if length_filter == "drop" and max_length is not None and len(prompt_ids) + len(cot_ids) + len(answer_ids) > max_length:
        return None
    sections = _truncate(list(prompt_ids), list(cot_ids), list(answer_ids), policy, lsp, max_length)
    if sections is None:
        return None
    p, c, a = sections
    n_close = min(max(close_tokens, 0), len(a)) if think_close == "cot" else 0
    input_ids = p + c + a
    owners = ["prompt"] * len(p) + ["cot"] * (len(c) + n_close) + ["answer"] * (len(a) - n_close)
    labels = [t if owner in loss_on else IGNORE_INDEX for t, owner in zip(input_ids, owners)]
    if all(t == IGNORE_INDEX for t in labels[1:]):  # position 0 is never predicted
        return None
    return input_ids, labels


def _truncate(p: list[int], c: list[int], a: list[int], policy: str, lsp: float, max_length: int | None):
    """The kept (prompt, cot, answer) ids, or None to drop the sequence."""
    total = len(p) + len(c) + len(a)
    if policy == "drop":
        return (p, c, a) if max_length is None or total <= max_length else None
    if policy == "lsp-cot":
        keep_c = math.ceil(lsp * len(c))
        if max_length is not None:
            keep_c = min(keep_c, max_length - len(p) - len(a))
            if keep_c < 0:
                return None  # prompt + answer alone exceed the cap: nothing sensible to keep
        return p, c[:keep_c], a
    # int(L * x), at least 1: exactly the Essence code's count (datasets.py, included_first_x_percent)
    keep = max(1, int(total * lsp)) if policy == "lsp" else total
    if max_length is not None:
        keep = min(keep, max_length)
    return _lead(p, c, a, keep)


def _lead(p: list[int], c: list[int], a: list[int], keep: int):
    """The first ``keep`` tokens of p + c + a, still split into their sections."""
    kp = min(keep, len(p))
    kc = min(keep - kp, len(c))
    ka = min(keep - kp - kc, len(a))
    return p[:kp], c[:kc], a[:ka]


def skip_reason(prompt_ids: Sequence[int], cot_ids: Sequence[int], answer_ids: Sequence[int], **kwargs: Any) -> str:
    """Why ``build_example`` returned None for these sections (for the rejects file)."""
    max_length = kwargs.get("max_length")
    total = len(prompt_ids) + len(cot_ids) + len(answer_ids)
    dropping = kwargs.get("policy") == "drop" or kwargs.get("length_filter") == "drop"
    if dropping and max_length is not None and total > max_length:
        return "over_max_length"
    if max_length is not None and len(prompt_ids) >= max_length:
        return "prompt_longer_than_max_length"
    return "no_loss_tokens_after_truncation"


# --------------------------------------------------------------------------- records -> sections


@dataclass
class Sections:
    """One training record as text: the chat prompt and what the student should write."""

    id: str
    messages: list[dict[str, str]]  # the conversation before the reply (user, maybe system)
    reasoning: str
    final: str  # the text after </think>, e.g. "The answer is \\boxed{18}"


def record_sections(row: dict[str, Any], *, reasoning_field: str | None = None, line: int = 0) -> Sections | tuple[str, str]:
    """Map a record (prune output, question/reasoning/answer, or chat ``messages``) to Sections,
    or return ``(reason, detail)`` for the rejects file."""
    item_id = str(row.get("id") or f"line-{line}")
    if isinstance(row.get("messages"), list):
        return _from_messages(item_id, row["messages"])
    question = _first(row, FIELD_ALIASES["question"])
    if not question:
        return ("missing_question", "no question/problem/prompt field")
    fields = (reasoning_field,) if reasoning_field else ("pruned", "reasoning", "original")
    if reasoning_field and reasoning_field not in row:
        return ("missing_reasoning", f"no '{reasoning_field}' field (--reasoning-field)")
    reasoning = _first(row, fields)
    if not reasoning and not reasoning_field and row.get("completion"):
        from leancot.grading import split_think

        reasoning, final, _ = split_think(str(row["completion"]))
        row = {**row, "final": row.get("final") or final}
    if not reasoning or not str(reasoning).strip():
        return ("no_reasoning", f"empty {'/'.join(fields)}")
    final = _final(row)
    if final is None:
        return ("no_answer", "neither 'final' nor 'answer'/'gold_answer'")
    return Sections(item_id, [{"role": "user", "content": str(question)}], str(reasoning).strip(), final)


def _from_messages(item_id: str, messages: list[Any]) -> Sections | tuple[str, str]:
    from leancot.grading import split_think

    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "assistant":
        return ("bad_messages", "the last message must be the assistant's reply")
    reply = str(messages[-1].get("content") or "")
    reasoning, final, closed = split_think(reply)
    if THINK_CLOSE not in reply or not closed or not reasoning.strip():
        return ("no_reasoning", "the assistant reply has no <think>...</think> reasoning")
    prompt = [{"role": str(m.get("role")), "content": str(m.get("content"))} for m in messages[:-1]]
    return Sections(item_id, prompt, reasoning.strip(), final.strip())


def _first(row: dict[str, Any], keys: Iterable[str]) -> str | None:
    for k in keys:
        if row.get(k) not in (None, ""):
            return str(row[k])
    return None


def _final(row: dict[str, Any]) -> str | None:
    if str(row.get("final") or "").strip():
        return str(row["final"]).strip()
    answer = _first(row, ("answer", "gold_answer"))
    return None if answer is None else f"The answer is \\boxed{{{answer}}}"


# --------------------------------------------------------------------------- tokenisation


def tokenize_sections(tokenizer: Any, s: Sections) -> tuple[list[int], list[int], list[int]]:
    """Token ids of (prompt, cot, answer) under the student's chat template.

    The prompt is the template with the generation prompt. The think tags are plain text unless
    the tokenizer has them as tokens; a template whose generation prompt already opens
    ``<think>`` (R1-distill style) is not given a second one. The answer ends with the
    tokenizer's end-of-turn (eos) token so the student learns to stop.
    """
    prompt = tokenizer.apply_chat_template(s.messages, add_generation_prompt=True, tokenize=False)
    opened = prompt.rstrip().endswith(THINK_OPEN)
    cot = ("" if opened else THINK_OPEN + "\n") + s.reasoning
    answer = "\n" + THINK_CLOSE + "\n\n" + s.final + (tokenizer.eos_token or "")
    enc = tokenizer([prompt, cot, answer], add_special_tokens=False)["input_ids"]
    return list(enc[0]), list(enc[1]), list(enc[2])


def think_close_tokens(tokenizer: Any, answer_ids: Sequence[int]) -> int:
    """How many leading tokens of ``answer_ids`` (from ``tokenize_sections``) make up ``\\n</think>``.

    The tag's own ids when the answer starts with them; else (a token that merges the tag's end with
    what follows) the shortest prefix whose text holds the whole tag.
    """
    tag = list(tokenizer(["\n" + THINK_CLOSE], add_special_tokens=False)["input_ids"][0])
    if tag and list(answer_ids[: len(tag)]) == tag:
        return len(tag)
    for k in range(1, min(len(answer_ids), len(tag) + 8) + 1):  # the tag is the answer's first few tokens
        if THINK_CLOSE in tokenizer.decode(list(answer_ids[:k])):
            return k
    return 0


# --------------------------------------------------------------------------- pre-flight


def preflight(
    sections: list[Sequence[Any]], *, loss_on: str | Iterable[str], lsp: float, max_length: int | None, think_close: str = "answer"
) -> dict[str, dict[str, int]]:
    """What every policy would do to these sequences: how many it truncates or skips, tokens left.

    ``sections``: ``(prompt, cot, answer)`` id lists, optionally with a fourth item, the answer's
    ``</think>`` token count (``think_close_tokens``). With ``max_length`` the report also has
    ``drop+lsp`` and ``drop+lsp-cot`` (the length filter ``drop`` before the policy).
    Returns ``{policy: {sequences, touched, skipped, tokens, loss_tokens}}`` where ``tokens`` is
    what the model would process and ``loss_tokens`` the positions that carry loss.
    """
    report: dict[str, dict[str, int]] = {}
    variants = [(p, "cut") for p in POLICIES] + ([("lsp", "drop"), ("lsp-cot", "drop")] if max_length is not None else [])
    for policy, length_filter in variants:
        if policy in ("cut", "drop") and max_length is None:
            continue
        row = {"sequences": 0, "touched": 0, "skipped": 0, "tokens": 0, "loss_tokens": 0}
        kw = {"loss_on": loss_on, "policy": policy, "lsp": lsp if policy.startswith("lsp") else 1.0, "length_filter": length_filter,
              "max_length": None if policy == "none" else max_length, "think_close": think_close}  # fmt: skip
        for p, c, a, *rest in sections:
            ex = build_example(p, c, a, close_tokens=rest[0] if rest else 0, **kw)
            if ex is None:
                row["skipped"] += 1
                continue
            row["sequences"] += 1
            row["touched"] += len(ex[0]) < len(p) + len(c) + len(a)
            row["tokens"] += len(ex[0])
            row["loss_tokens"] += sum(t != IGNORE_INDEX for t in ex[1][1:])
        report[policy if length_filter == "cut" else f"drop+{policy}"] = row
    return report


# --------------------------------------------------------------------------- batching


class PadToLongest:
    """Collate examples into tensors padded to the batch's longest sequence (not to max_length).

    Pads on the right with ``pad_id``; padded labels are -100 and the attention mask is 0 there.
    """

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, examples: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(e["input_ids"]) for e in examples)
        ids = torch.full((len(examples), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        for i, e in enumerate(examples):
            n = len(e["input_ids"])
            ids[i, :n] = torch.tensor(e["input_ids"])
            labels[i, :n] = torch.tensor(e["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
