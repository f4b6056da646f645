"""Skill-aware step decomposition (DRP step 1), offline.

A trace is cut into *units* (sentences, with a lead-in glued to the display maths or
list that follows it), each unit is labelled with a skill, and units are grouped into
*steps*: a step is one unit of reasoning, e.g. a computation paragraph with its lead-in,
or a run of hesitation sentences. Steps never split inside display maths
(``\\[ ... \\]``, ``$$ ... $$``, ``\\begin{..} ... \\end{..}``), inline maths, or a list.

Every step's text is an exact slice of the input (stripped of surrounding whitespace)
and the steps are in order, so their concatenation covers the input's non-space
characters exactly.
"""

from __future__ import annotations

import bisect
import re

from leancot.prune.skills import label
from leancot.schema import Step

# Openers of protected regions and how far to look for their closer (bounded, so an
# unclosed opener costs at most the window, never a rescan of the whole trace).
_OPENERS = re.compile(r"\\\[|\$\$|\\\(|\\begin\{([A-Za-z*]+)\}|\$")
_MONEY = re.compile(r"\d[\d,]*(?:\.\d+)?(?![\d.,]*(?:\s*[-+*/^=<>\\]|[a-zA-Z{(])|\.\d)")  # "$12", "$11.50,": an amount, not maths
_WINDOW = {"\\[": 8000, "$$": 8000, "\\(": 2000, "$": 400, "env": 8000}

# Candidate unit ends: sentence punctuation (plus closers like ** or a bracket) before
# whitespace, or a line break.
_CANDIDATE = re.compile(r"[.?!](?:\*\*|[\"')\]])*(?=\s)|\n")
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|dr|mr|mrs|ms|prof|approx|fig|eq|eqs|no|st|jr|cf|resp|al|min|max|deg)|\.\.)\.?$",
    re.I,
)
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*•]|\d{1,3}[.)]|\(?[a-z][.)])[ \t]+")
_PRUNABLE = {"hesitation", "verification", "self_correction", "restatement", "final_answer"}
_ABSORBING = {"verification", "self_correction"}  # the content that follows belongs to them


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, disjoint ``(start, end)`` spans of maths that no boundary may cut."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = _OPENERS.search(text, pos)
        if m is None:
            return spans
        opener = m.group(0)
        if m.group(1):
            closer, window = "\\end{" + m.group(1) + "}", _WINDOW["env"]
        else:
            closer = {"\\[": "\\]", "$$": "$$", "\\(": "\\)", "$": "$"}[opener]
            window = _WINDOW[opener]
        if opener == "$" and _MONEY.match(text, m.end()):
            pos = m.end()  # "$11.50, so ...": a price, not maths
            continue
        end = text.find(closer, m.end(), m.end() + window)
        if end < 0 or (opener == "$" and ("\n" in text[m.end() : end] or text[end + 1 : end + 2].isdigit())):
            pos = m.end()  # unclosed, or closed by another price ("$x$" never ends with "$5"): not a maths region
            continue
        spans.append((m.start(), end + len(closer)))
        pos = end + len(closer)


def _inside(spans: list[tuple[int, int]], starts: list[int], i: int) -> bool:
    k = bisect.bisect_right(starts, i) - 1
    return k >= 0 and spans[k][0] < i < spans[k][1]


_NONSPACE = re.compile(r"\S")
_NOT_BLANK = re.compile(r"[^ \t]")
_NEWLINE = re.compile(r"\n")
# _LIST_ITEM and _NUMBER_MARK without their leading blanks, matched from a line's first
# non-blank character: the blanks are skipped once per line, not once per candidate.
_LIST_MARK = re.compile(r"(?:[-*•]|\d{1,3}[.)]|\(?[a-z][.)])[ \t]")
_NUMBER_ONLY = re.compile(r"\d{1,3}\.")


def _next_nonspace(text: str, i: int) -> int:
    m = _NONSPACE.search(text, i)
    return m.start() if m else len(text)


class _Lines:
    """The line breaks of a text, found once, so that a sentence candidate finds its line by
    bisection instead of rescanning the line (which made a long single line quadratic)."""

    def __init__(self, text: str):
        self.text = text
        self.breaks = [m.start() for m in _NEWLINE.finditer(text)]
        self._lead: dict[int, int] = {}
        self._list_follows: dict[int, bool] = {}

    def start(self, i: int) -> int:
        """Start of the line holding ``i`` (``text.rfind("\\n", 0, i) + 1``)."""
        k = bisect.bisect_left(self.breaks, i)
        return self.breaks[k - 1] + 1 if k else 0

    def end(self, i: int) -> int:
        """The first line break at or after ``i``, or -1 (``text.find("\\n", i)``)."""
        k = bisect.bisect_left(self.breaks, i)
        return self.breaks[k] if k < len(self.breaks) else -1

    def count(self, a: int, b: int) -> int:
        """Line breaks in ``text[a:b]``."""
        return bisect.bisect_left(self.breaks, b) - bisect.bisect_left(self.breaks, a)

    def lead(self, line_start: int) -> int:
        """The first character of the line that is not a space or tab (cached per line)."""
        if line_start not in self._lead:
            m = _NOT_BLANK.search(self.text, line_start)
            self._lead[line_start] = m.start() if m else len(self.text)
        return self._lead[line_start]

    def list_follows(self, line_end: int) -> bool:
        """Whether the line after the break at ``line_end`` is a list item, with no blank line between."""
        if line_end not in self._list_follows:
            nxt = _next_nonspace(self.text, line_end)
            self._list_follows[line_end] = self.count(line_end, nxt) < 2 and bool(_LIST_ITEM.match(self.text, nxt))
        return self._list_follows[line_end]


def units(text: str) -> list[tuple[int, int, bool]]:
    """The units of ``text`` as ``(start, end, starts_paragraph)``, start at a non-space character.

    A unit ends at ``. ? !`` before whitespace (not after an abbreviation, a list number
    like ``1.`` or before a lowercase word), at a blank line, or at a line break that is
    not inside a list and does not precede a lowercase continuation. A line ending with
    ``:`` is glued to the maths or list it introduces.

    Time is linear in ``len(text)``: every candidate looks at a bounded window around it,
    and whatever depends on its whole line is computed once per line (:class:`_Lines`).
    """
    spans = protected_spans(text)
    starts = [s for s, _ in spans]
    lines = _Lines(text)
    bounds: list[tuple[int, bool]] = []  # (start of next unit, paragraph break before it)
    nxt = -1  # the last next-non-space found: a run of line breaks is scanned once, not per break
    for m in _CANDIDATE.finditer(text):
        i = m.start()
        if _inside(spans, starts, i):
            continue
        if m.end() > nxt:
            nxt = _next_nonspace(text, m.end())
        if nxt >= len(text):
            break
        para = lines.count(i, nxt) >= 2  # a blank line between the units
        if not para and not _is_boundary(text, m, nxt, i, lines):
            continue
        if bounds and bounds[-1][0] == nxt:
            bounds[-1] = (nxt, bounds[-1][1] or para)
        else:
            bounds.append((nxt, para))
    return _spans_between(text, bounds)


def _spans_between(text: str, bounds: list[tuple[int, bool]]) -> list[tuple[int, int, bool]]:
    """The units that the unit starts ``bounds`` cut ``text`` into."""
    begin = _next_nonspace(text, 0)
    out: list[tuple[int, int, bool]] = []
    prev, prev_para = begin, True
    for b, para in bounds:
        if b <= prev:
            continue
        out.append((prev, b, prev_para))
        prev, prev_para = b, para
    if prev < len(text):
        out.append((prev, len(text), prev_para))
    return out


def _is_boundary(text: str, m: re.Match[str], nxt: int, i: int, lines: _Lines) -> bool:
    """Whether a non-paragraph candidate ``m`` (followed by text at ``nxt``) ends a unit."""
    if text[nxt].islower():
        return False  # a continuation ("where ...", "e.g. that") or an abbreviation
    line_start = lines.start(i)
    if m.group(0) == "\n":
        return _line_break_ends_unit(text, nxt, i, line_start, lines)
    if text[i] == "!" and i and (text[i - 1].isdigit() or text[i - 1] in ")}"):
        return False  # a factorial: "9! / (5! 2!)", "5! is 120"
    before = text[max(line_start, i - 12) : i + 1]  # a bounded window (the line start caps it)
    if _ABBREV.search(before) or _NUMBER_ONLY.fullmatch(text, lines.lead(line_start), i + 1):
        return False  # "e.g." or a list number "2."
    if _LIST_MARK.match(text, lines.lead(line_start), i):
        # a sentence inside a list item: keep the list whole while it continues
        line_end = lines.end(i)
        if line_end >= 0 and lines.list_follows(line_end):
            return False
    return True


def _line_break_ends_unit(text: str, nxt: int, i: int, line_start: int, lines: _Lines) -> bool:
    """Whether the line break at ``i`` (the next line starting at ``nxt``) ends a unit."""
    line = text[line_start:i].rstrip()  # one slice per line: linear in the text
    if line.endswith(":"):
        return False  # a lead-in glued to its maths or list
    next_end = lines.end(nxt)
    if next_end < 0 or next_end >= nxt + 400:
        next_end = nxt + 400
    if _LIST_ITEM.match(line) and _LIST_ITEM.match(text, nxt, next_end):
        return False  # inside a list
    if text.startswith(("\\[", "$$", "\\begin"), nxt) and not line.endswith((".", "?", "!")):
        return False  # a lead-in without a colon
    return True


def decompose(reasoning: str, question: str = "") -> list[Step]:
    """Split ``reasoning`` into skill-labelled steps (action ``keep``, ``rewritten`` None).

    ``question`` (optional) helps recognise restatements of the problem.
    """
    n = max(len(reasoning), 1)
    groups: list[list[tuple[int, int, str]]] = []
    kinds: list[str | None] = []  # the prunable skill a group is made of, else None
    for start, end, para in units(reasoning):
        skill = label(reasoning[start:end], position=start / n, question=question)
        kind = kinds[-1] if kinds else None
        if not groups or para:
            new = True
        elif skill in _PRUNABLE:
            new = kind != skill
        else:
            new = kind is not None and kind not in _ABSORBING
        if new:
            groups.append([])
            kinds.append(skill if skill in _PRUNABLE else None)
        groups[-1].append((start, end, skill))
    steps = []
    for idx, (group, kind) in enumerate(zip(groups, kinds)):
        text = reasoning[group[0][0] : group[-1][1]].strip()
        steps.append(Step(index=idx, text=text, skill=kind or _majority(group)))
    return steps


def _majority(group: list[tuple[int, int, str]]) -> str:
    """The skill covering most characters of a group of units."""
    weight: dict[str, int] = {}
    for start, end, skill in group:
        weight[skill] = weight.get(skill, 0) + end - start
    return max(weight, key=weight.__getitem__)


def sentences(text: str) -> list[str]:
    """The units of ``text`` as stripped strings (used to compress a step sentence by sentence)."""
    return [text[s:e].strip() for s, e, _ in units(text)]


def step_offsets(reasoning: str, steps: list[Step]) -> list[tuple[int, int]]:
    """``(start, end)`` of every step in ``reasoning`` (steps are exact slices, in order)."""
    out, pos = [], 0
    for s in steps:
        start = reasoning.find(s.text, pos)
        start = pos if start < 0 else start
        out.append((start, start + len(s.text)))
        pos = start + len(s.text)
    return out
