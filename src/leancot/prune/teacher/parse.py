"""Reading the teacher's JSON answers, tolerantly, and validating them strictly.

Tolerant: a server without structured output may wrap the JSON in a code fence, put a
sentence or a ``<think>`` block before it, or add text after it; ``extract_json`` finds
the first JSON object that decodes. Strict: what the object says must hold up —

- a segmentation's steps must copy the reasoning verbatim and in order, covering at
  least ``MIN_COVERAGE`` of its non-space characters (``--segment-output text``), or give each
  step's first sentence unit and skill in one string, ``"1 problem_setup; 4 hesitation"``: every
  unit in exactly one step, in order, every skill one of the table's (``units``, the default);
- a compression names every step once, in order, with a letter for one of DRP's four actions,
  ``"1K 4D 5C 7M 9M"``, and writes text only for a rewrite (C, the first step of an M run); it
  does not copy the path, which ``leancot.prune.teacher.drp`` assembles from the steps.
  ``unit_segmentation_answer`` and ``compression_answer`` write these two answers (the parsers'
  inverses: what an ideal teacher answers, for benchmarks and tests).

With ``prompt_style: drp-paper`` the answers are the official prompts' free text, read as
tolerantly (any ``Step n`` numbering and punctuation, markdown bold, the ``Skill:`` label on the
next line or the same one, no trailing newline) and checked as strictly: the steps must cover the
trace verbatim (the same coverage check), and the path after ``##`` must end with "The answer is ...".

Every failure raises ``ParseError`` with a message written to be fed back to the
teacher in the retry. The model's text is only ever parsed (as JSON or as text), never evaluated.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from leancot import grading
from leancot.prune.skills import SKILLS, label
from leancot.schema import Step

MIN_COVERAGE = 0.98
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_SPACE = re.compile(r"\s+")
_DECODER = json.JSONDecoder()

# DRP's action names (and the spellings teachers use) -> Step.action
ACTIONS = {
    "keep": "keep",
    "delete": "delete",
    "remove": "delete",
    "drop": "delete",
    "single-step compress": "compress",
    "single step compress": "compress",
    "compress": "compress",
    "single-step compression": "compress",
    "single_step_compress": "compress",
    "multi-step compress": "merge",
    "multi step compress": "merge",
    "merge": "merge",
    "multi-step compression": "merge",
    "multi_step_compress": "merge",
}


class ParseError(ValueError):
    """A teacher answer that cannot be used; the message says why, for the retry."""


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (after any ``</think>``, inside a fence or not)."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        start = cand.find("{")
        while start >= 0:
            try:
                obj, _ = _DECODER.raw_decode(cand, start)
            except json.JSONDecodeError:
                start = cand.find("{", start + 1)
                continue
            if isinstance(obj, dict):
                return obj
            start = cand.find("{", start + 1)
    raise ParseError("the answer holds no JSON object")


def coverage(step_texts: list[str], reasoning: str) -> float:
    """Share of ``reasoning``'s non-space characters that the steps copy verbatim, in order.

    Each step (spaces removed) is looked for after the end of the previous match; a step
    that is not a verbatim copy covers nothing.
    """
    source = _SPACE.sub("", reasoning)
    if not source:
        return 1.0
    pos = covered = 0
    for text in step_texts:
        piece = _SPACE.sub("", text)
        if not piece:
            continue
        found = source.find(piece, pos)
        if found >= 0:
            covered += len(piece)
            pos = found + len(piece)
    return covered / len(source)


def normalise_skill(skill: Any, text: str, position: float, question: str) -> str:
    """The taxonomy name of a teacher's skill label; an unknown label is relabelled offline."""
    name = _SPACE.sub("_", str(skill or "").strip().lower()).replace("-", "_")
    return name if name in SKILLS else label(text, position=position, question=question)


def parse_segmentation(answer: str, reasoning: str, question: str = "") -> list[Step]:
    """Steps of a segmentation answer; raises ParseError unless they cover the reasoning."""
    obj = extract_json(answer)
    raw = obj.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ParseError('the JSON must have a non-empty "steps" list')
    texts = []
    for i, item in enumerate(raw, start=1):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ParseError(f'step {i} has no "text" string')
        texts.append(text.strip())
    _check_coverage(texts, reasoning)
    n = len(texts)
    return [Step(index=i, text=t, skill=normalise_skill(raw[i].get("skill"), t, i / max(n - 1, 1), question)) for i, t in enumerate(texts)]


def _check_coverage(texts: list[str], reasoning: str) -> None:
    cov = coverage(texts, reasoning)
    if cov < MIN_COVERAGE:
        raise ParseError(
            f"the steps copy only {cov:.1%} of the trace's text; every step must be copied verbatim "
            f"and together they must reproduce the whole trace in order"
        )


def parse_unit_segmentation(answer: str, reasoning: str, spans: list[tuple[int, int]]) -> tuple[list[Step], list[tuple[int, int]]]:
    """Steps of a segmentation by unit ids, and each step's first and last unit (1-based); raises ParseError.

    ``steps`` is one string with each step's first unit and skill, ``"1 problem_setup; 4 hesitation;
    5 computation"`` (``;`` or a new line between steps); a step runs to the unit before the next step's
    first. The first step starts at unit 1, each later one after the one before, and every skill is
    one of the table's (case, spaces and hyphens aside), so every unit is in exactly one step, in order,
    and coverage is exact by construction."""
    raw = extract_json(answer).get("steps")
    if not isinstance(raw, str) or not raw.strip():
        raise ParseError(f'"steps" must be one string with each step\'s first unit and skill, as {_STEPS_EXAMPLE}')
    entries = [e.strip() for e in re.split(r"[;\n]", raw) if e.strip()]
    starts, skills = [], []
    for i, entry in enumerate(entries, start=1):
        m = _UNIT_STEP.fullmatch(entry)
        if m is None:
            raise ParseError(f"step {i} reads {entry!r}; give each step as its first unit and its skill, as {_STEPS_EXAMPLE}")
        start = int(m.group(1))
        if not 1 <= start <= len(spans):
            raise ParseError(f"step {i} starts at unit {start}, but the units are numbered 1 to {len(spans)}")
        starts.append(start)
        skills.append(_table_skill(m.group(2), start))
    if starts[0] != 1:
        raise ParseError(f"the first step starts at unit {starts[0]}; it must start at unit 1")
    for i in range(1, len(starts)):
        if starts[i] <= starts[i - 1]:
            raise ParseError(
                f"step {i + 1} starts at unit {starts[i]}, not after step {i} (unit {starts[i - 1]}): "
                "every step must start after the one before it"
            )
    ranges = list(zip(starts, [*(s - 1 for s in starts[1:]), len(spans)]))
    texts = [reasoning[spans[a - 1][0] : spans[b - 1][1]].strip() for a, b in ranges]  # the original text, whitespace kept
    return [Step(index=i, text=t, skill=k) for i, (t, k) in enumerate(zip(texts, skills))], ranges


_STEPS_EXAMPLE = '"1 problem_setup; 4 hesitation; 5 computation"'
_UNIT_STEP = re.compile(r"(\d+)\s*[:.=]?\s*([A-Za-z][A-Za-z_ -]*?)\.?")  # "4 hesitation", "4: Problem Setup."


def _table_skill(skill: str, start: int) -> str:
    name = _SPACE.sub("_", skill.strip().lower()).replace("-", "_")
    if name not in SKILLS:
        raise ParseError(f"the step at unit {start} has the skill {skill!r}, which is not in the table; use one of: {', '.join(SKILLS)}")
    return name


# The compression answer's letters for DRP's four actions -> Step.action
LETTERS = {"K": "keep", "D": "delete", "C": "compress", "M": "merge"}
_LETTER_OF = {action: letter for letter, action in LETTERS.items()}
_ACTIONS_EXAMPLE = '"1K 4D 5C"'
_ACTION_ITEM = re.compile(r"[\s,;]*(\d+)\s*[:.=]?\s*([A-Za-z]+)[\s,;]*")  # "4D", "4: D", "4 D,"


def parse_compression(answer: str, steps: list[Step], names: list[int] | None = None) -> list[Step]:
    """The steps with the actions of a compression answer; raises ParseError.

    ``actions`` names every step exactly once, in order, each with a letter: K (KEEP), D (DELETE),
    C (SINGLE-STEP COMPRESS), M (MULTI-STEP COMPRESS), as ``"1K 4D 5C 7M 9M"``; a step's name is
    ``names[i]`` (its first unit when the trace is in units, else its number, the default).
    ``rewritten`` (``[{"step": 5, "text": "..."}]``) gives text only for a rewrite: every C needs one;
    an M with one starts a run (its merged text), an M without continues the run before it (deleted
    steps in between aside) and is kept as ``""``, as the offline pruner keeps them. Text for a K or D
    step is refused (was it meant as a rewrite?), and so is an answer that deletes every step."""
    names = names or list(range(1, len(steps) + 1))
    obj = extract_json(answer)
    actions = _read_actions(obj.get("actions"), names)
    texts = _read_rewrites(obj.get("rewritten"), names)
    out, in_run = [], False
    for i, (step, action) in enumerate(zip(steps, actions)):
        text, name = texts.get(i), names[i]
        if action in ("keep", "delete") and text is not None:
            raise ParseError(
                f"step {name} is {_LETTER_OF[action]} but has a rewritten text: give text only for a C step and for the first step of an M run"
            )
        if action == "compress" and text is None:
            raise ParseError(f'step {name} is C without a text in "rewritten": give its shorter text, or keep it (K)')
        if action == "merge" and text is None and not in_run:
            raise ParseError(
                f"step {name} is M without text, but no M run before it to join: give the merged text in "
                '"rewritten" on the first step of the run'
            )
        if action != "delete":
            in_run = action == "merge"
        rewritten = (text or "") if action in ("compress", "merge") else None
        out.append(step.model_copy(update={"action": action, "rewritten": rewritten}))
    if all(s.action == "delete" for s in out):
        raise ParseError("every step is D, which leaves no reasoning: keep the steps that reach the final answer")
    return out


def _read_actions(raw: Any, names: list[int]) -> list[str]:
    """Step.action of every step, from ``"1K 4D 5C"``: every step exactly once, in order."""
    if not isinstance(raw, str) or not raw.strip():
        raise ParseError(f'"actions" must be one string naming every step with its action letter, as {_ACTIONS_EXAMPLE}')
    text, pos, items = raw.strip(), 0, []
    while pos < len(text):
        m = _ACTION_ITEM.match(text, pos)
        if m is None:
            raise ParseError(
                f'"actions" cannot be read from {text[pos : pos + 20]!r}: give every step as its name and one letter, as {_ACTIONS_EXAMPLE}'
            )
        items.append((int(m.group(1)), m.group(2)))
        pos = m.end()
    index = {name: i for i, name in enumerate(names)}
    given: dict[int, str] = {}
    order = []
    for name, letter in items:
        action = LETTERS.get(letter.upper())
        if action is None:
            raise ParseError(
                f"step {name} has the action {letter!r}; use K (KEEP), D (DELETE), C (SINGLE-STEP COMPRESS) or M (MULTI-STEP COMPRESS)"
            )
        if name not in index:
            raise ParseError(_not_a_step(name, names))
        if index[name] in given:
            raise ParseError(f"step {name} is given twice; give every step exactly one action")
        given[index[name]] = action
        order.append(index[name])
    missing = [str(names[i]) for i in range(len(names)) if i not in given]
    if missing:
        listed = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise ParseError(
            f"{'step' if len(missing) == 1 else 'steps'} {listed} {'has' if len(missing) == 1 else 'have'} no action: give every step exactly one, in order"
        )
    for k in range(1, len(order)):
        if order[k] < order[k - 1]:
            raise ParseError(f"step {names[order[k]]} comes after step {names[order[k - 1]]}: give the steps in order")
    return [given[i] for i in range(len(names))]


def _read_rewrites(raw: Any, names: list[int]) -> dict[int, str]:
    """Step index -> its rewritten text (an empty text is none)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ParseError('"rewritten" must be a list of {"step": <step>, "text": "..."}, or null')
    index = {name: i for i, name in enumerate(names)}
    out: dict[int, str] = {}
    for k, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ParseError(f'rewritten entry {k} must be {{"step": <step>, "text": "..."}}')
        name = item.get("step")
        if not isinstance(name, int) or isinstance(name, bool) or name not in index:
            raise ParseError(f"rewritten entry {k} names step {name!r}; " + _not_a_step(name, names, lead=False))
        if index[name] in out:
            raise ParseError(f"step {name} has two rewritten texts; give one")
        if item["text"].strip():
            out[index[name]] = item["text"].strip()
    return out


def _not_a_step(name: Any, names: list[int], lead: bool = True) -> str:
    """Why ``name`` names no step: the numbers there are, or the first units near it."""
    head = f"{name} is not a step: " if lead else ""
    if names == list(range(1, len(names) + 1)):
        return head + f"the steps are numbered 1 to {len(names)}"
    k = bisect.bisect_left(names, name) if isinstance(name, int) else 0
    near = ", ".join(str(n) for n in names[max(0, k - 2) : k + 2])
    return head + f"a step is named by its first unit, and the steps around it start at units {near}"


def unit_segmentation_answer(starts: list[int], skills: list[str]) -> dict[str, Any]:
    """The segmentation answer for steps that start at units ``starts`` with ``skills`` (parse_unit_segmentation's inverse)."""
    return {"steps": "; ".join(f"{a} {k}" for a, k in zip(starts, skills)), "actions": None, "rewritten": None}


def compression_answer(steps: list[Step], names: list[int] | None = None) -> dict[str, Any]:
    """The compression answer for steps with their actions and rewrites (parse_compression's inverse; text only
    for a C step and the first step of an M run, which is where the offline pruner puts a merged run's text)."""
    names = names or list(range(1, len(steps) + 1))
    actions = " ".join(f"{n}{_LETTER_OF[s.action]}" for n, s in zip(names, steps))
    rewritten = [{"step": n, "text": s.rewritten} for n, s in zip(names, steps) if s.action in ("compress", "merge") and s.rewritten]
    return {"steps": None, "actions": actions, "rewritten": rewritten}


BOXED_ENDING = '"The answer is \\boxed{ANSWER}."'


def _check_ending(pruned: str, original_answer: str | None, hint: str = BOXED_ENDING) -> None:
    """The path must end with its answer: "The answer is ..." in its last lines, equal to the original's."""
    tail = pruned[-400:]
    if "answer is" not in tail.lower() and "\\boxed" not in tail:
        raise ParseError(f"the synthesised path must end with {hint}")
    found = grading.extract_answer(tail, must_conclude=False)
    if found is None:
        raise ParseError(f"the synthesised path must end with {hint}")
    if original_answer is not None and not grading.is_equivalent(found, original_answer):
        raise ParseError(
            f"the synthesised path ends with the answer {found}, but the original trace's answer "
            f"is {original_answer}; keep the steps that reach it"
        )


# ---------------------------------------------------------------- prompt_style drp-paper: free text

PAPER_ENDING = 'a last sentence starting with "The answer is" that gives the final answer'
_PAPER_FORMAT = (
    'answer in the format asked for: for every step, "Step n: <segment of the original text>" '
    'and then "Skill: <skill used>" on the next line'
)
# "Step 3:", "**Step 3:**", "### Step 3 -", "Step 3." at the start of a line
_PAPER_STEP = re.compile(r"^[ \t>*_#-]*step[ \t]*(\d+)[ \t]*(?:\*\*|__)?[ \t]*[:.)\-–—][ \t]*(?:\*\*|__)?[ \t]*", re.I | re.M)
# "Skill: addition", "**Skill used:** addition": on its own line or after the step's text
_PAPER_SKILL = re.compile(r"(?<![^\s*_])[*_]*skill(?:[ \t]+used)?[ \t]*(?:\*\*|__)?[ \t]*:[ \t]*(?:\*\*|__)?[ \t]*([^\n]*)", re.I)
# a step's evaluation in the compression answer: "Step 3: DELETE", "Steps 4-5: MULTI-STEP COMPRESS", "1. Step 2 ..."
_PAPER_EVAL = re.compile(r"^[ \t>*_#\d.)-]*(steps?[ \t]*\d+(?:[ \t]*(?:-|–|to|and|&|,)[ \t]*(?:steps?[ \t]*)?\d+)*)", re.I | re.M)
_PAPER_ACTION = r"multi[- ]?step[ _-]?compress(?:ion)?|single[- ]?step[ _-]?compress(?:ion)?|keep|delete|remove|merge|compress"
_PAPER_ACTION_UPPER = re.compile(r"MULTI[- ]?STEP[ _-]?COMPRESS|SINGLE[- ]?STEP[ _-]?COMPRESS|\b(?:KEEP|DELETE|REMOVE|MERGE|COMPRESS)\b")
_PAPER_ACTION_ANY = re.compile(rf"\b(?:{_PAPER_ACTION})\b", re.I)
_PAPER_REWRITE = re.compile(
    r"(?:rewritten|compressed|merged|combined|revised|concise)(?:[ \t]+(?:version|text|step))?"
    r"[*_]*[ \t]*:[*_]*[ \t]*",
    re.I,
)
_PAPER_HASHES = re.compile(r"(?<!#)##+[ \t]*")


def _after_think(text: str) -> str:
    return text.rsplit("</think>", 1)[1] if "</think>" in text else text


def parse_paper_segmentation(answer: str, reasoning: str, question: str = "") -> list[Step]:
    """Steps of an answer to DRP's official segmentation prompt: ``Step n: <text>`` then ``Skill: <skill>``.

    The teacher's label goes to ``Step.atomic_skill``; ``Step.skill`` is its taxonomy name when it is
    one, else the offline labeller's. A ``Step k:`` line copied from the trace stays inside its step.
    Raises ParseError for a step without text or ``Skill:`` label, or steps that do not cover the trace."""
    text = _after_think(answer)
    source = _SPACE.sub("", reasoning)
    headers = list(_PAPER_STEP.finditer(text))
    if not headers:
        raise ParseError(f'the answer has no "Step n:" lines; {_PAPER_FORMAT}')
    pieces: list[tuple[str, str]] = []
    pos = 0
    for h in headers:
        if h.start() < pos:
            continue  # a "Step k:" of the trace itself, inside the step before
        number = h.group(1)
        skill = _PAPER_SKILL.search(text, h.end())
        stop = skill.start() if skill else len(text)
        _no_missing_skill(text, headers, h.end(), stop, number, source)
        if skill is None:
            raise ParseError(f'step {number} has no "Skill:" line; {_PAPER_FORMAT}')
        body = _unwrap(text[h.end() : stop].strip().rstrip("*_ \t\n"), source)
        label = skill.group(1).strip().strip("*_{}\"'` ").rstrip(".").strip()
        if not body:
            raise ParseError(f'step {number} has no text: copy its segment of the original text after "Step {number}:"')
        if not label:
            raise ParseError(f'step {number} has an empty "Skill:" label: name the atomic mathematical skill it uses')
        pieces.append((body, label))
        pos = skill.end()
    _check_coverage([t for t, _ in pieces], reasoning)
    n = len(pieces)
    return [
        Step(index=i, text=t, skill=normalise_skill(lab, t, i / max(n - 1, 1), question), atomic_skill=lab)
        for i, (t, lab) in enumerate(pieces)
    ]


def _no_missing_skill(text: str, headers: list[re.Match[str]], start: int, stop: int, number: str, source: str) -> None:
    """A ``Step k:`` before this step's ``Skill:`` line is the trace's own text, or this step lost its label."""
    for inner in headers:
        if start <= inner.start() < stop:
            end = text.find("\n", inner.start())
            line = _SPACE.sub("", text[inner.start() : end if end >= 0 else len(text)])
            if line not in source:
                raise ParseError(f'step {number} has no "Skill:" line before step {inner.group(1)}; {_PAPER_FORMAT}')


def _unwrap(body: str, source: str) -> str:
    """The step's text without the ``{...}`` the prompt's ``{{segment of original text}}`` may invite."""
    while body.startswith("{") and body.endswith("}") and _SPACE.sub("", body) not in source:
        body = body[1:-1].strip()
    return body


def parse_paper_compression(answer: str, steps: list[Step], original_answer: str | None) -> tuple[list[Step], str, list[int]]:
    """``(steps with actions, path, indices of steps whose action was inferred)`` of an answer to DRP's
    official compression prompt; raises ParseError.

    The path is what follows the first ``##`` (as the official code reads it), or the first ``##`` after
    the evaluations when the teacher titles them with one; titles (``## Compressed reasoning:``) are
    dropped. It must end with "The answer is ...". The prompt sets no format for the per-step
    evaluations before it, so actions are read where the teacher names them (``Step 3: DELETE``,
    ``Steps 4-5: MULTI-STEP COMPRESS``); a step it does not name is inferred from the path: kept when
    its text is in the path verbatim, else deleted (those indices are returned, for the record)."""
    text = _after_think(answer)
    found = _path_marker(text, len(steps))
    if found is None:
        raise ParseError(f'the answer has no "##": output the integrated compressed reasoning after "##", ending with {PAPER_ENDING}')
    pruned = _without_headings(found[1].strip())
    if not pruned:
        raise ParseError(f'nothing follows "##": output the integrated compressed reasoning there, ending with {PAPER_ENDING}')
    _check_ending(pruned, original_answer, hint=PAPER_ENDING)
    named = _paper_actions(text[: found[0]], len(steps))
    path = _SPACE.sub("", pruned)
    inferred = [i for i in range(len(steps)) if i not in named]
    for i in inferred:
        named[i] = ("keep" if _SPACE.sub("", steps[i].text) in path else "delete", None)
    out = [s.model_copy(update={"action": named[i][0], "rewritten": named[i][1]}) for i, s in enumerate(steps)]
    return out, pruned, inferred


def _path_marker(text: str, n_steps: int) -> tuple[int, str] | None:
    """``(where the ## is, what follows it)``: the first ``##`` (as the official code reads it), unless what
    follows still holds step evaluations (after a ``### Step evaluations`` heading): then the next one."""
    marks = [(m.start(), text[m.end() :]) for m in _PAPER_HASHES.finditer(text)]
    for mark in marks:
        if not _paper_actions(mark[1], n_steps):
            return mark
    return marks[-1] if marks else None


def _heading(line: str) -> bool:
    title = line.strip().lstrip("#").strip().strip("*_ ")
    return title.endswith(":") or (len(title.split()) <= 8 and not re.search(r"[.!?]$|\d", title))


def _without_headings(path: str) -> str:
    """The path without titles: ``Integrated compressed reasoning:`` on the ``##`` line, ``## Final answer`` lines."""
    first, _, rest = path.partition("\n")
    if _heading(first) and rest.strip():
        path = rest.strip()
    lines = [line for line in path.split("\n") if not (line.lstrip().startswith("#") and _heading(line))]
    return "\n".join(lines).strip()


def _paper_actions(evaluation: str, n_steps: int) -> dict[int, tuple[str, str | None]]:
    """Step index -> (action, rewritten) for the steps the evaluation names with one of DRP's actions."""
    marks = list(_PAPER_EVAL.finditer(evaluation))
    out: dict[int, tuple[str, str | None]] = {}
    for k, m in enumerate(marks):
        block = evaluation[m.end() : marks[k + 1].start() if k + 1 < len(marks) else len(evaluation)]
        hit = _PAPER_ACTION_UPPER.search(block) or _PAPER_ACTION_ANY.search(block)
        if hit is None:
            continue
        word = hit.group(0).lower()
        action = "merge" if word.startswith("multi") else "compress" if word.startswith("single") else ACTIONS[word]
        rewrite = _PAPER_REWRITE.search(block, hit.end())
        rewritten = block[rewrite.end() :].strip().strip("\"'*_ ") or None if rewrite and action in ("compress", "merge") else None
        for j, i in enumerate(_numbers(m.group(1))):
            if 1 <= i <= n_steps and i - 1 not in out:
                out[i - 1] = (action, rewritten if j == 0 else ("" if rewritten else None))
    return out


def _numbers(phrase: str) -> list[int]:
    """``Steps 4-5`` -> [4, 5]; ``Steps 2, 3 and 6`` -> [2, 3, 6]."""
    nums = [int(x) for x in re.findall(r"\d+", phrase)]
    if len(nums) == 2 and re.search(r"\d\s*(?:-|–|to)\s*(?:steps?\s*)?\d", phrase, re.I) and nums[0] < nums[1] <= nums[0] + 200:
        return list(range(nums[0], nums[1] + 1))
    return nums
