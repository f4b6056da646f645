"""Evaluation protocols by name: presets of the settings that change results, each a data file.

``protocols/<name>.yaml`` (package data) holds one protocol's defaults for ``EvalConfig``:
``chat_template``, ``prompt``, ``max_new_tokens`` (and ``max_new_tokens_by_benchmark``),
``temperature``, ``top_p``, ``n``, ``dtype``, ``stop``, ``answer_format``. An explicit flag or
recipe key overrides the protocol's value; the protocol's name goes into ``summary.json``.

- ``leancot`` (default): R1 math prompt, chat template, greedy, 2,048 tokens.
- ``drp-lm-eval``: DRP's lm-eval ``gsm8k_cot_zeroshot`` ("Q: ...\\nA: Let's think step by step.",
  no chat template, greedy, stop at "Q:" outside the reasoning, strict "The answer is N.").
- ``essence-lighteval``: Distilling the Essence's lighteval (chat template, T 0.6, top-p 0.95, 32,768).
- ``deepseek-r1``: R1's protocol (T 0.6, top-p 0.95, n samples, pass@1 = mean over samples).
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from leancot import grading
from leancot.errors import UsageError

DEFAULT_PROTOCOL = "leancot"
#: EvalConfig fields a protocol may set (every one has a value in every protocol file).
PROTOCOL_FIELDS = ("chat_template", "prompt", "max_new_tokens", "temperature", "top_p", "n", "dtype", "stop", "answer_format")
# lm-eval gsm8k_cot_zeroshot's strict-match filter: "The answer is (\-?[0-9\.\,]+)." , first match
_STRICT = re.compile(r"The answer is (\-?[0-9\.\,]+).")


def list_protocols() -> list[str]:
    """The names of the bundled protocols."""
    return sorted(p.name[: -len(".yaml")] for p in files("leancot.evaluate").joinpath("protocols").iterdir() if p.name.endswith(".yaml"))


@cache
def load_protocol(name: str) -> dict[str, Any]:
    """The settings of ``protocols/<name>.yaml``; UsageError for an unknown name."""
    resource = files("leancot.evaluate").joinpath(f"protocols/{name}.yaml")
    if not resource.is_file():
        raise UsageError(f"unknown protocol {name!r}; choose one of: {', '.join(list_protocols())}")
    settings = yaml.safe_load(resource.read_text(encoding="utf-8")) or {}
    missing = [k for k in PROTOCOL_FIELDS if k not in settings]
    if missing:
        raise UsageError(f"protocol {name!r} does not set {', '.join(missing)}")
    return settings


def apply_protocol(data: dict[str, Any]) -> dict[str, Any]:
    """Fill every protocol field that ``data`` leaves unset (absent or None) from its protocol."""
    settings = load_protocol(data.get("protocol") or DEFAULT_PROTOCOL)
    filled = dict(data)
    explicit_budget = filled.get("max_new_tokens") is not None
    for key in PROTOCOL_FIELDS:
        if filled.get(key) is None:
            filled[key] = settings[key]
    # per-benchmark budgets apply only when the budget itself came from the protocol
    if filled.get("max_new_tokens_by_benchmark") is None:
        filled["max_new_tokens_by_benchmark"] = {} if explicit_budget else dict(settings.get("max_new_tokens_by_benchmark") or {})
    elif isinstance(filled["max_new_tokens_by_benchmark"], str):  # the flag: "math500=130000,aime24=130000"
        filled["max_new_tokens_by_benchmark"] = _budgets(filled["max_new_tokens_by_benchmark"])
    return filled


def _budgets(text: str) -> dict[str, str]:
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not all(sep and name.strip() and value.strip() for name, sep, value in pairs):
        raise UsageError(f"--max-new-tokens-by-benchmark takes name=N,name=N (got {text!r})")
    return {name.strip(): value.strip() for name, _, value in pairs}


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """``text`` cut before the first stop string outside the reasoning; ``(text, cut?)``.

    Outside the reasoning: after ``</think>``; in a text with no think tags, anywhere; in a
    text that opened ``<think>`` and never closed it, nowhere (it is still reasoning).
    """
    if not stop:
        return text, False
    if grading.THINK_CLOSE in text:
        start = text.index(grading.THINK_CLOSE) + len(grading.THINK_CLOSE)
    elif grading.THINK_OPEN in text:
        return text, False
    else:
        start = 0
    hits = [i for i in (text.find(s, start) for s in stop if s) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


def strict_answer(text: str) -> str | None:
    """lm-eval's strict-match answer: the first "The answer is N." in the answer region, commas dropped."""
    _, final, closed = grading.split_think(text)
    if grading.THINK_OPEN in text and not closed:
        return None  # cut off while reasoning: no answer, as everywhere in leancot
    region = final if grading.THINK_CLOSE in text else text
    m = _STRICT.search(region)
    return m.group(1).replace(",", "").rstrip(".") if m else None
