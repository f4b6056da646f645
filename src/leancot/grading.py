"""Extract a model's final answer and grade it against a gold answer.

Where the answer is looked for (:func:`split_think`):

1. A text with ``</think>``: only the part after the last ``</think>`` (a ``\\boxed{}``
   written while thinking is a draft, not the answer).
2. A text with ``<think>`` but no ``</think>``: the model was cut off while thinking;
   it has no answer (``None``, ``truncated=True``).
3. A text with no think tags: the whole text (models without think tags answer in the open).

In a text without ``</think>`` (case 3, or a region a caller cut out), an answer counts only
when it concludes the text (:func:`concludes`): nothing may follow it but closing words
(``\\boxed{9}.``, ``\\boxed{9}. Hope this helps!``, ``The final answer is 3. I hope it is
correct.``, a unit, a closing ``$``/``\\]``/``**``). A text that stops mid-thought on a
tentative answer (``so maybe \\boxed{9}? Then times 2 is``, ``\\boxed{9}. Wait, let me
check``) has none (``tentative=True``). After ``</think>`` every answer counts as before.

What is taken from that region (:func:`extract_answer_detailed`), first hit wins:

1. ``boxed``     -- the LAST ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces), or ``\\boxed 5``;
2. ``answer_is`` -- the last "The answer is X" / "the final answer is X" / "Answer: X";
3. ``hashes``    -- the last ``#### X`` (GSM8K style); when a text has both 2 and 3, the
   one written last wins (a GSM8K solution says "the answer is ..." before ``#### X``);
4. ``last_number`` -- the last number in the region, only with ``fallback_last_number=True``
   (callers see ``method == "last_number"`` and can flag it).

How two answers are compared (:func:`is_equivalent`): both are normalised
(:func:`normalize_answer`: ``$``, thousands commas, units, percent, ``\\dfrac``, zero
padding, ``27.0``...) and match when the strings are equal; two plain numbers that differ
never match; otherwise Math-Verify's ``verify(parse(gold), parse(pred))`` decides
(fractions vs decimals, ``\\sqrt``, sets, intervals...). Model text is only ever matched
with regular expressions and parsed by Math-Verify's LaTeX/sympy parser, never ``eval``-ed.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from leancot import numbers

logger = logging.getLogger(__name__)

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
MATH_VERIFY_TIMEOUT_S = 5  # per parse / per comparison, main thread only (signal.alarm)

Method = Literal["boxed", "answer_is", "hashes", "last_number"]


@dataclass(frozen=True)
class Extraction:
    """An extracted answer and how it was found.

    ``answer`` is the raw answer text (not normalised) or None; ``method`` is one of
    ``"boxed"``, ``"answer_is"``, ``"hashes"``, ``"last_number"`` or None; ``truncated``
    is True when the text was cut off inside ``<think>``; ``tentative`` is True when a text
    without ``</think>`` holds an answer but goes on past it (:func:`concludes`), so has none.
    """

    answer: str | None
    method: Method | None = None
    truncated: bool = False
    tentative: bool = False


# --------------------------------------------------------------------------- think tags


def split_think(text: str) -> tuple[str, str, bool]:
    """Split a model output into ``(reasoning, final, closed)``.

    - ``...<think> R </think> F`` -> ``(R, F, True)``: ``F`` follows the last ``</think>``;
      anything up to and including the ``<think>`` before it (an echoed prompt, which may
      itself end with ``<think>``) is dropped.
    - ``...<think> R`` (no ``</think>``: cut off while thinking) -> ``(R, "", False)``.
    - no tags at all -> ``(text, "", True)``: the whole text is the reasoning, as in
      :class:`leancot.schema.Trace`, so token counts of reasoning + final add up to the
      whole; :func:`extract_answer` then searches the whole text for the answer.

    Both parts are stripped of surrounding whitespace.
    """
    end = text.rfind(THINK_CLOSE)
    start = text.rfind(THINK_OPEN, 0, end if end >= 0 else len(text))
    body_start = start + len(THINK_OPEN) if start >= 0 else 0
    if end >= 0:
        return text[body_start:end].strip(), text[end + len(THINK_CLOSE) :].strip(), True
    if start >= 0:
        return text[body_start:].strip(), "", False
    return text.strip(), "", True


def answer_region(text: str) -> str | None:
    """The part of ``text`` that holds the final answer, or None if cut off in ``<think>``."""
    if THINK_CLOSE in text:
        return split_think(text)[1]
    if THINK_OPEN in text:
        return None
    return text


# --------------------------------------------------------------------------- extraction

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_IS_RE = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is|:)\s*:?\s*(?:\*\*)?\s*"
    r"(?:(?:therefore|thus|then|so|simply|just)\s+)?(?P<ans>[^\n]+)",
    re.IGNORECASE,
)
_HASHES_RE = re.compile(r"####\s*(?P<ans>[^\n]+)")
_CALCULATOR_RE = re.compile(r"<<[^<>\n]*>>")  # GSM8K calculator notes: "<<9*2=18>>18"
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?|(?<![\w.])-?\.\d+")


def _braced(text: str, i: int) -> str | None:
    """The content of the ``{...}`` group opening at ``text[i]``, or None if unbalanced."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def _boxed_content(text: str, end: int) -> str | None:
    """The argument of a ``\\boxed`` command ending at ``end``: ``{...}`` or ``\\boxed 5``."""
    rest = text[end:]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        return _braced(text, end + len(rest) - len(stripped))
    if rest[:1].isspace():
        match = re.match(r"[^\s$]+", stripped)
        return match.group(0).rstrip(".,") if match else None
    return None


def _boxed_end(text: str, end: int, content: str) -> int:
    """Where the ``\\boxed`` command whose name ends at ``end`` and whose argument is ``content`` ends."""
    rest = text[end:]
    if rest.lstrip().startswith("{"):
        return end + len(rest) - len(rest.lstrip()) + len(content) + 2
    return text.find(content, end) + len(content)


def _last_boxed_span(text: str) -> tuple[int, int, str] | None:
    """``(start, end, content)`` of the last complete, non-empty ``\\boxed{}``/``\\fbox{}`` in ``text``."""
    for match in reversed(list(_BOX_RE.finditer(text))):
        content = _boxed_content(text, match.end())
        if content is not None and content.strip():
            return match.start(), _boxed_end(text, match.end(), content), content.strip()
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{}``/``\\fbox{}`` in ``text``, or None."""
    found = _last_boxed_span(text)
    return found[2] if found else None


def _clean_inline(ans: str) -> str:
    """Trim an inline answer to its math (``$..$``, ``\\(..\\)``) or its first sentence,
    then the delimiters, markdown and punctuation around it."""
    ans = ans.strip().removeprefix("**").lstrip()
    math = re.match(r"\$\$?(.+?)(?<!\\)\$|\\\((.+?)\\\)", ans)
    if math:
        return (math.group(1) or math.group(2)).strip()
    ans = re.split(r"[.?]\s", ans, maxsplit=1)[0]  # "12. I hope it is correct.", "9? Then times 2 is"
    for _ in range(3):  # e.g. "**$\\frac{1}{2}$.**"
        ans = re.sub(r"^(?:\*\*|\$|\\\(|\\\[)\s*", "", ans)
        ans = re.sub(r"\s*(?:\*\*|\$|\\\)|\\\]|[.;,!?])$", "", ans)
    return ans.strip()


def _last_inline(pattern: re.Pattern[str], text: str) -> tuple[int, str, str] | None:
    """``(position, answer, what follows the answer)`` of the last non-empty match of an inline answer marker."""
    for match in reversed(list(pattern.finditer(text))):
        raw = match.group("ans")
        while nested := list(pattern.finditer(raw)):  # Minerva: "Final Answer: The final answer is $3$."
            raw = nested[-1].group("ans")
        span = _CALCULATOR_RE.sub("", raw)
        boxed = _last_boxed_span(span)
        if boxed is None and _BOX_RE.search(span):
            continue  # "The answer is \\boxed{}." (or a box cut off): an empty box is no answer
        ans = boxed[2] if boxed is not None else _clean_inline(span)
        if ans:
            at = boxed[1] if boxed is not None else span.find(ans) + len(ans) if ans in span else len(span)
            return match.start(), ans, span[at:] + text[match.end("ans") :]
    return None


# what may follow a concluding answer: closing delimiters, end tokens, end-of-proof marks, then closing words
_CLOSERS_RE = re.compile(
    r"\\end\{[A-Za-z*]+\}|\\(?:blacksquare|qed|square|Box)(?![A-Za-z])|∎|<\|[^|<>]*\|>|</s>|<eos>|\\\]|\\\)|\$|\*\*|[{}()\[\]]"
    r"|\\?%|\\[,;:! ]|\\(?:text|mbox|mathrm)\s*(?=\{[A-Za-z .]*\})"  # 25\%, a \text{ cm} unit (its word is kept)
)
# a tail that goes on thinking: numbers, maths, questions, and the words that carry reasoning on
_GOES_ON_RE = re.compile(
    r"[\d?=+^<>\\]|\b(?:wait|but|however|hmm+|actually|alternatively|let(?:'s| me| us)|check\w*|verif\w*|maybe|perhaps"
    r"|if|then|so|next|now|first|second|compute|calculat\w*|suppose|assum\w*|consider\w*|unless|or|no|not sure|step)\b",
    re.IGNORECASE,
)
# sign-offs that hold a word of the list above: "Let me know if you have any questions."
_CLOSING_PHRASE_RE = re.compile(
    r"\b(?:let me know|feel free|if you have (?:any )?(?:other |more |further )?questions?|I hope (?:it|this|that) is correct)\b[^.!\n]*",
    re.IGNORECASE,
)
_MAX_CLOSING_WORDS = 25


def concludes(tail: str) -> bool:
    """True when ``tail``, the text after an answer, holds only closing words: ``"."``,
    ``"$. I hope it is correct."``, ``"}\\]"``, ``" apples."``, ``". Hope this helps!"``, and not
    more reasoning (``"? Then times 2 is"``, ``". Wait, let me check"``, ``"\\n\\nTo verify: 9*2=18"``)."""
    rest = _CLOSING_PHRASE_RE.sub(" ", _CLOSERS_RE.sub(" ", tail))
    return not _GOES_ON_RE.search(rest) and len(re.findall(r"[A-Za-z]+", rest)) <= _MAX_CLOSING_WORDS


def _last_number(text: str) -> str | None:
    numbers = _NUMBER_RE.findall(_CALCULATOR_RE.sub("", text))
    return numbers[-1].replace(",", "") if numbers else None


def extract_answer_detailed(text: str, fallback_last_number: bool = False, *, must_conclude: bool = True) -> Extraction:
    """Extract the final answer of a model output and say how it was found.

    See the module docstring for the search region and the order of precedence.
    ``must_conclude=False`` takes the last answer of a text without ``</think>`` wherever it
    stands: for a text known to be final (a reference solution, whose answer may come before
    its last sentence; a region already cut after the reasoning; a pruned path).
    """
    region = answer_region(text)
    if region is None:
        return Extraction(None, None, truncated=True)
    final = THINK_CLOSE in text or not must_conclude  # after </think> every answer is final; elsewhere only one that concludes
    boxed = _last_boxed_span(region)
    if boxed and (final or concludes(region[boxed[1] :])):
        return Extraction(boxed[2], "boxed")
    # "The answer is X" before "#### X", unless the #### line comes later (GSM8K style)
    inline: list[tuple[int, str, str, Method]] = [
        (*found, method)
        for method, pattern in (("answer_is", _ANSWER_IS_RE), ("hashes", _HASHES_RE))
        if (found := _last_inline(pattern, region)) is not None
    ]
    concluding = [item for item in inline if final or concludes(item[2])]
    if concluding:
        _, answer, _, method = max(concluding, key=lambda item: item[0])
        return Extraction(answer, method)
    if boxed or inline:
        return Extraction(None, None, tentative=True)
    if fallback_last_number and (number := _last_number(region)) is not None:
        logger.debug("answer %r taken from the last number", number)
        return Extraction(number, "last_number")
    return Extraction(None, None)


def extract_answer(text: str, *, fallback_last_number: bool = False, must_conclude: bool = True) -> str | None:
    """The raw final answer of a model output, or None (see :func:`extract_answer_detailed`)."""
    return extract_answer_detailed(text, fallback_last_number=fallback_last_number, must_conclude=must_conclude).answer


# --------------------------------------------------------------------------- normalisation

_WORD_RE = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]+)*")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# "dollars", "cm^2", "km/h", "sq. ft": two letters or more, so "5x" stays an expression
_UNIT_WORD_RE = re.compile(r"[A-Za-z]{2,}\.?(?:\s*(?:[A-Za-z]+\.?|\^\{?\d\}?|/\s*[A-Za-z]+))*")
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,;:! ]|\\quad|\\qquad")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")


def _canonical_number(s: str) -> str:
    """``"025"`` -> ``"25"``, ``"27.0"`` -> ``"27"``, ``"-.50"`` -> ``"-0.5"``, ``"-0"`` -> ``"0"`` (``leancot.numbers``)."""
    return numbers.canonical(s)


def _strip_unit(s: str) -> str:
    """``"18 dollars"`` / ``"50\\%"`` / ``"5\\text{ cm}"`` -> the number; anything else unchanged."""
    core = re.sub(r"\\?%$", "", s).strip()
    match = re.match(r"([+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+))\s*(.*)$", core)
    if not match:
        return s
    number, rest = match.groups()
    if not rest or _UNIT_WORD_RE.fullmatch(rest) or _TEXT_CMD_RE.fullmatch(rest):
        return number
    return s


_WRAPPER_RE = re.compile(r"\\(?:boxed|fbox|text|textbf|mathrm|mathbf|mbox)\s*(\{.*\})", flags=re.DOTALL)


def _unwrap(s: str) -> str:
    """Drop one wrapper around the whole string: ``$..$``, ``\\(..\\)``, ``\\boxed{..}``,
    ``\\text{..}``/``\\textbf{..}``, or parentheses around a plain number (``(073)``)."""
    wrapped = _WRAPPER_RE.fullmatch(s)
    if wrapped and _braced(wrapped.group(1), 0) == wrapped.group(1)[1:-1]:
        return wrapped.group(1)[1:-1].strip()
    if re.fullmatch(r"\(\s*[+-]?\d+(?:\.\d+)?\s*\)", s):
        return s[1:-1].strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) > len(left) + len(right) and s.startswith(left) and s.endswith(right):
            return s[len(left) : -len(right)].strip()
    return s


def _strip_latex_noise(s: str) -> str:
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    s = re.sub(r"\\(?:left|right)(?![A-Za-z])\s*", "", s)
    s = re.sub(r"\\!|\{,\}", lambda m: "," if m.group(0) == "{,}" else "", s)
    s = _SPACING_RE.sub(" ", s)
    s = _DEGREE_RE.sub("", s)
    s = s.replace("\\$", "").replace("$", "")
    return re.sub(r"\s+", " ", s).strip()


def _squeeze_spaces(s: str) -> str:
    """Drop spaces except between two letters (``\\cdot x``): ``\\frac{1} { 4027}`` -> ``\\frac{1}{4027}``."""
    return re.sub(r"(?<![A-Za-z]) | (?![A-Za-z])", "", s)


def normalize_answer(s: str | int | float | None) -> str:
    """A canonical string for a gold answer or a prediction (``""`` for None).

    Strips whitespace, ``$``/``\\$``, ``\\boxed{}``, ``\\left``/``\\right``, ``^\\circ``,
    a trailing period, units or percent around a plain number (``"18 dollars"``,
    ``"50\\%"``, ``"5\\text{ cm}"``), thousands commas in a number (``"1,000"`` but not
    ``"(1,2)"``); maps ``\\dfrac``/``\\tfrac`` to ``\\frac``; writes plain numbers
    canonically (``"025"`` -> ``"25"``, ``27.0`` -> ``"27"``).
    """
    if s is None:
        return ""
    if isinstance(s, bool):
        s = str(s)
    if isinstance(s, int):
        return str(s)
    if isinstance(s, float):
        # 15 significant digits: 0.1 + 0.2 -> "0.3", as a person would write it
        return str(int(s)) if s.is_integer() else normalize_answer(format(s, ".15g"))
    text = s.strip()
    for _ in range(4):
        text = _unwrap(text)
    text = _strip_latex_noise(text).rstrip(".").strip()
    text = _squeeze_spaces(_strip_unit(text))
    if _THOUSANDS_RE.fullmatch(text):
        text = text.replace(",", "")
    if _PLAIN_NUMBER_RE.fullmatch(text):
        return _canonical_number(text)
    return text


# --------------------------------------------------------------------------- comparison


def _timeout() -> int | None:
    """Math-Verify's timeouts use ``signal.alarm``: only usable on the main thread."""
    on_main = threading.current_thread() is threading.main_thread()
    return MATH_VERIFY_TIMEOUT_S if on_main else None


@lru_cache(maxsize=8192)
def _parse(latex: str, timeout: int | None) -> tuple:
    """Math-Verify's parse of one normalised answer, boxed so that all of it is taken.

    Only the LaTeX extractor (an ANTLR grammar) is used: the plain-expression one goes
    through ``sympy.parse_expr``, which ``eval``-s its input.
    """
    from math_verify import LatexExtractionConfig, parse

    config = [LatexExtractionConfig()]
    return tuple(parse(f"\\boxed{{{latex}}}", config, parsing_timeout=timeout))


def _math_verify(pred: str, gold: str) -> bool:
    from math_verify import verify
    from math_verify.errors import TimeoutException

    timeout = _timeout()
    try:
        gold_parsed, pred_parsed = _parse(gold, timeout), _parse(pred, timeout)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(verify(list(gold_parsed), list(pred_parsed), timeout_seconds=timeout))
    except (Exception, TimeoutException):  # a grader never crashes a run
        logger.debug("math-verify failed on %r vs %r", pred, gold, exc_info=True)
        return False


def is_equivalent(pred: str | int | float | None, gold: str | int | float | None) -> bool:
    """True when ``pred`` and ``gold`` are the same answer.

    Equal normalised strings match; two different plain numbers never match
    (``6.18`` vs ``6.17``); otherwise Math-Verify decides (``0.5`` vs ``\\frac{1}{2}``).
    Safe to call from threads (Math-Verify's timeouts are then off).
    """
    if pred is None or gold is None:
        return False
    norm_pred, norm_gold = normalize_answer(pred), normalize_answer(gold)
    if not norm_pred or not norm_gold:
        return False
    if norm_pred == norm_gold:
        return True
    if _PLAIN_NUMBER_RE.fullmatch(norm_pred) and _PLAIN_NUMBER_RE.fullmatch(norm_gold):
        return False
    if _WORD_RE.fullmatch(norm_pred) or _WORD_RE.fullmatch(norm_gold):
        # sympy would read "Evelyn" as a product of commuting symbols (= "Evelny")
        return norm_pred.lower() == norm_gold.lower()
    return _math_verify(norm_pred, norm_gold)


def grade(output: str, gold: str | int | float | None, *, fallback_last_number: bool = False, must_conclude: bool = True) -> bool:
    """Extract the answer of a model output and compare it with ``gold`` (``must_conclude``: see :func:`extract_answer_detailed`)."""
    answer = extract_answer(output, fallback_last_number=fallback_last_number, must_conclude=must_conclude)
    return is_equivalent(answer, gold)
