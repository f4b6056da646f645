"""Offline step pruning (DRP step 2): an action per step, then one concise path.

Actions (``Step.action``):

- ``delete``: hesitation, restatement, planning chatter, problem setup that adds no
  needed number, verification, a value a later self-correction replaced, results that
  nothing uses (abandoned detours), and everything after the answer is first reached.
- ``keep`` / ``compress``: the steps the answer depends on. Compress removes filler
  sentences and words ("So,", "Okay, so", "Let me", "I think", hedges) and never a
  number or a formula; ``rewritten`` holds the shorter text.
- ``merge``: a run of short adjacent kept computations written as one block (prose joined
  by spaces, equation lines by line breaks). The first
  step of the run holds the merged line in ``rewritten``; the others have ``rewritten=""``
  (folded into the first).

Which steps are needed is decided by tracking numbers: the step where the answer is
first reached is the root; a needed step needs the step that first produced each of its
numbers (a line such as "29524 * 3:" that announces a needed computation comes along);
the walk goes backwards to the start. A step that ends by doubting itself ("does 484
count as the 49th?") and is answered by a check stating a new value is treated like a
value before a self-correction: the check produces the value, the doubted step goes.
The pruned text is made only of (shortened) slices of the original plus
``The answer is \\boxed{X}``, so it cannot invent a number.
"""

from __future__ import annotations

import re

from leancot import numbers
from leancot.prune import derivation
from leancot.prune.segment import decompose, units
from leancot.prune.select import Selection, joined, retracted_only, select
from leancot.prune.skills import label
from leancot.prune.verify import numbers_in
from leancot.schema import Step

_ALWAYS_DELETE = {"hesitation", "restatement", "verification", "final_answer", "planning", "problem_setup"}
_SUBSTANTIVE = {
    "computation",
    "formula_application",
    "fact_retrieval",
    "case_analysis",
    "result_consolidation",
    "self_correction",
    "problem_setup",
    "planning",
}
_PRODUCERS = _SUBSTANTIVE - {"planning"}
_DROP_SENTENCE = {"hesitation", "verification", "restatement", "final_answer"}
_DETOUR = re.compile(
    r"^\W*(?:(?:but|so|hmm|wait|now|okay)\W+)*(?:alternatively|another (?:way|approach|method)"
    r"|let me try (?:another|a different)|maybe there'?s a (?:better|smarter|different))",
    re.I,
)
_MERGE_MAX_WORDS = 24

# Filler that opens a sentence, removed repeatedly: "Okay, so now, I think ..." -> "...".
_FILLER_HEAD = re.compile(
    r"^(?:(?:okay|ok|alright|all right|so(?! on\b)|now|well|hmm+|oh|yeah|yep|wait(?: a (?:second|minute|moment))?|then|and|also"
    r"|basically|actually|again)\b[,.!:]?\s*"
    r"|(?:first|next|finally|right)\b[,.!]\s*"  # only with a comma: "Right side:", "Next digit:" are content
    r"|(?:i think|i believe|i guess|i suppose|i recall|i remember|i know|it seems|i see)(?: that)?\b,?\s*"
    r"|(?:let me|let's|let us|i'll|i will|i need to|i should|i have to|i can|i could|we can|we need to)"
    r"\s+(?:now\s+|just\s+|first\s+|also\s+|try to\s+|go ahead and\s+|start by\s+)*"
    r"(?=(?:compute|calculate|write|simplify|find|note|see|consider|recall|remember|look at|plug|substitute|"
    r"express|rewrite|factor|expand|solve|multiply|divide|add|subtract|count|use|apply)\b))+",
    re.I,
)
_HEDGES = re.compile(r",?\s*\b(?:i think|i guess|i believe|probably|basically|just|actually|kind of|sort of)\b,?(?=\s)", re.I)
_TAG_QUESTION = re.compile(r",?\s*right\?$", re.I)  # "... is 3 times Layer 9, right?" -> "... Layer 9."
_LONE_LETTER = re.compile(r"[ai] [a-z]{2,}")  # "a cubic ...", "i guess": a word, not a variable like "x"
_LEAD_IN = re.compile(  # a pure lead-in before display maths: "Let me write that out:"
    r"^(?:[^\\$\d\n]{0,80}?)\b(?:let me|let's|let us|i'll|i can|we can|we get|we have|this gives|that gives"
    r"|so we have|this becomes|it becomes)\b[^\\$\d\n]{0,60}:\s*(?=\\\[|\$\$|\\begin)",
    re.I,
)
_CHATTER = re.compile(r"\W*(?:(?:so|now|okay|alright|first|next|then)\W+)*(?:let me|let's|let us|i'll|i will|i need to)\b", re.I)
_DISPLAY = re.compile(r"\\\[|\$\$|\\begin\{")


def prune_trace(reasoning: str, answer: str | None, question: str = "") -> tuple[list[Step], str]:
    """Decompose ``reasoning`` into steps and prune them: ``(steps, concise reasoning)``."""
    return prune(decompose(reasoning, question), answer, question, reasoning=reasoning)


def prune(
    steps: list[Step],
    answer: str | None,
    question: str = "",
    *,
    root: int | None = None,
    compress: bool = True,
    reasoning: str | None = None,
) -> tuple[list[Step], str]:
    """Set every step's action/rewritten and synthesise the concise path.

    ``answer`` is the trace's final answer (``None``: the last ``\\boxed{}`` of the steps, if any).
    ``reasoning`` is the text the steps were cut from (default: the steps joined by blank lines).
    The sentences kept are those of the answer's derivation (``leancot.prune.select``); when no
    computation derives the answer, the step rules below decide, with ``root`` the step where the
    answer is reached (default: :func:`_root`). ``compress=False`` keeps the kept steps verbatim
    (less what must go). Returns new Step objects (the input is not modified) and the pruned
    reasoning, which ends with ``The answer is \\boxed{X}``.
    """
    steps = [s.model_copy(update={"action": "keep", "rewritten": None}) for s in steps]
    if answer is None:
        answer = _last_boxed(" ".join(s.text for s in steps))
    if reasoning is None:
        reasoning = "\n\n".join(s.text for s in steps)
    graph = derivation.build(reasoning, question, answer)
    chosen = select(graph, steps)
    if chosen is None:
        _step_rules(steps, answer, question, root, compress)
        _without(steps, retracted_only(graph, steps), question, compress)
    else:
        for i, step in enumerate(steps):
            _apply(step, chosen, i, compress)
    _drop_repeated_headings(steps)
    if compress:
        _merge(steps)
    return steps, synthesise(steps, answer)


def _apply(step: Step, chosen: Selection, i: int, compress: bool) -> None:
    """A step's action from the sentences the selection keeps: delete, keep, or compress to them."""
    graph = chosen.graph
    ks = chosen.kept_in(i) if compress else (chosen.left_in(i) if chosen.kept_in(i) else [])
    texts = [_shorten(graph.standing_text(k)) if compress else graph.standing_text(k) for k in ks]
    text = joined(graph, ks, texts)
    if not text:
        step.action = "delete"
    elif text != step.text:
        step.action, step.rewritten = "compress", text


def _shorten(sentence: str) -> str:
    """A kept sentence without its lead-in and filler words (numbers and formulas untouched)."""
    return _strip_filler(_LEAD_IN.sub("", sentence, count=1))


def _without(steps: list[Step], chosen: Selection, question: str, compress: bool) -> None:
    """Take the sentences that must go (retracted passages) out of the steps the rules kept."""
    graph = chosen.graph
    for i, step in enumerate(steps):
        if step.action == "delete" or not set(chosen.step_sentences[i]) & chosen.drop:
            continue
        text = joined(graph, chosen.left_in(i))
        step.action, step.rewritten = ("compress", text) if text else ("delete", None)
        if text and compress:
            rest = step.model_copy(update={"text": text, "action": "keep", "rewritten": None})
            _compress(rest, question)
            step.action, step.rewritten = ("compress", rest.rewritten or text) if rest.action != "delete" else ("delete", None)


def _step_rules(steps: list[Step], answer: str | None, question: str, root: int | None, compress: bool) -> None:
    """The step rules for a trace whose answer no computation derives (tracking numbers, module docstring)."""
    q_numbers = numbers_in(question)
    nums = [_significant(numbers_in(s.text)) - q_numbers for s in steps]
    doubts = _answered_doubts(steps)
    superseded = _superseded(steps) | set(doubts)
    root = _root(steps, answer) if root is None else root
    needed = _needed(steps, nums, superseded, root, corrections=set(doubts.values()))
    produced = _produced(nums)
    last_use = _last_use(steps, nums, root)
    in_detour = _detours(steps, needed)
    for i, step in enumerate(steps):
        live = not produced[i] or any(last_use.get(n, -1) > i for n in produced[i])
        keep = _decide(i, step, root, needed, superseded, live, in_detour[i])
        if not keep:
            step.action = "delete"
        elif compress:
            _compress(step, question)


def _decide(i: int, step: Step, root: int | None, needed: set[int], superseded: set[int], live: bool, in_detour: bool) -> bool:
    """Whether step ``i`` stays in the concise path (see the module docstring)."""
    if root is not None and i > root:
        return False  # the answer is reached: the rest re-checks or re-derives it
    if i in needed:
        return True
    if i in superseded or step.skill in _ALWAYS_DELETE or in_detour:
        return False
    return live  # a result no later step uses is an abandoned detour; symbolic steps stay


def _last_use(steps: list[Step], nums: list[set[str]], root: int | None) -> dict[str, int]:
    """For each number, the last substantive step (up to the root) that mentions it.

    A step's result is used later when a number it produced has a last use after it; a
    map, not a set per step, so that the cost stays linear in the trace's length.
    """
    end = len(steps) if root is None else root + 1
    last: dict[str, int] = {}
    for i in range(end):
        if steps[i].skill in _PRODUCERS:
            last.update(dict.fromkeys(nums[i], i))
    return last


def _significant(numbers: set[str]) -> set[str]:
    """Numbers that identify a result: not 0-10, which are everywhere."""
    return {n for n in numbers if not (n.isdigit() and int(n) <= 10)}


def _produced(nums: list[set[str]]) -> list[set[str]]:
    """For each step, the numbers it is the first to mention."""
    seen: set[str] = set()
    out = []
    for ns in nums:
        out.append(ns - seen)
        seen |= ns
    return out


def _superseded(steps: list[Step]) -> set[int]:
    """Steps replaced by a later self-correction: the closest substantive step before it."""
    out = set()
    for i, step in enumerate(steps):
        if step.skill != "self_correction":
            continue
        for j in range(i - 1, max(-1, i - 4), -1):
            if steps[j].skill in ("computation", "formula_application", "result_consolidation", "case_analysis"):
                out.add(j)
                break
    return out


def _answered_doubts(steps: list[Step]) -> dict[int, int]:
    """``{doubted step: check}`` where a check states a value its doubted step did not reach.

    "... which gives 48.4, so 48. But wait, does 484 count as the 49th occurrence?"
    then "Let me check: ... That's 49 numbers.": the check is the correction (it
    produces 49) and the doubted step is a detour, like a value before a self-correction.
    """
    out = {}
    for j, step in enumerate(steps):
        if step.skill not in _PRODUCERS or not step.text.rstrip().endswith("?"):
            continue
        i = next((k for k in range(j + 1, min(j + 3, len(steps))) if steps[k].skill != "hesitation"), None)
        if (
            i is not None
            and steps[i].skill in ("verification", "self_correction")
            and _significant(_results(steps[i].text)) - _results(step.text)
        ):
            out[j] = i
    return out


def _results(text: str) -> set[str]:
    """Numbers ``text`` states as results ("= 49", "is 49", "that's 49 numbers")."""
    return {m.group(0) for m in _RESULT_NUMBER.finditer(text) if _RESULT_CONTEXT.search(text[max(0, m.start() - 12) : m.start()])}


def _canon(text: str) -> str:
    """Maths spelled one way: no spaces, \\dfrac -> \\frac, no \\left/\\right or thin spaces."""
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    text = re.sub(r"\\left|\\right|\\[,;!]|\\displaystyle", "", text)
    return re.sub(r"\s+", "", text)


def _answer_forms(answer: str) -> list[str]:
    """Spellings of ``answer`` to look for in the steps."""
    a = _canon(answer).strip("$")
    a = re.sub(r"^\\boxed\{(.*)\}$", r"\1", a)
    forms = {a}
    m = re.fullmatch(r"(-?)\\frac\{(-?[^{}]+)\}\{([^{}]+)\}", a)
    if m:
        sign, num, den = m.groups()
        forms |= {f"\\frac{{{sign}{num}}}{{{den}}}", f"{sign}{num}/{den}", f"{sign}\\frac{{{num}}}{{{den}}}"}
    v = numbers.value(answer)
    if v is not None and v.denominator != 1 and _is_plain(numbers.spell(v)):
        forms = {numbers.spell(v)}
    elif v is not None and v.denominator == 1:  # 14400 is also written 14,400, $14,400.00, 14400.0
        n = v.numerator
        forms = {str(n), f"{n:,}", f"{n}.00", f"{n:,}.00", f"{n}.0"}
    return [f for f in forms if f]


def _is_plain(form: str) -> bool:
    """A number spelled with digits only (a sign, thousands separators and a decimal part allowed)."""
    return bool(_PLAIN.fullmatch(form))


_PLAIN = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")


_RESULT_CONTEXT = re.compile(r"(?:=|\bis|\bbe|\bget|\bgives?|\bare|:|\bof|total|\bto|\bequals|boxed\{|'s|\bhas)\W{0,3}$", re.I)
# After a number: a range or an operation ("90-99", "90 \times 3"), so not a result.
_NOT_A_RESULT = r"(?!\s*(?:[-–+*/×^]|\\times|\\cdot)\s*\d)"


def _root(steps: list[Step], answer: str | None) -> int | None:
    """Index of the first step that reaches the answer (as a result), or None.

    A step reaches the answer when it states it as a result ("= 90", "is 90") and then
    states no other result: in "99 - 10 + 1 = 90 numbers, which is 9 sets" the answer
    90 is a coincidence on the way to 9. Failing that, the first statement as a result,
    then the first mention. A planning step counts only with ``= X`` ("How many more?
    That would be 188 - 98 = 90.").
    """
    if not answer:
        return None
    forms = _answer_forms(answer)
    numeric = all(_is_plain(f) for f in forms)
    tail = _NOT_A_RESULT if numeric else ""
    patterns = [re.compile(r"(?<![\d.,])" + re.escape(f) + r"(?![\d]|[.,]\d)" + tail) for f in forms]
    keys = {max(re.findall(r"\d+", f), key=len, default="") for f in forms}  # a cheap pre-filter
    stated = mentioned = None
    for i, step in enumerate(steps):
        if step.skill in ("hesitation", "restatement") or not any(k in step.text for k in keys):
            continue
        text = _canon(step.text) if not numeric else step.text
        for m in (m for pattern in patterns for m in pattern.finditer(text)):
            before = text[max(0, m.start() - 12) : m.start()]
            if step.skill == "planning" and not before.rstrip().endswith("="):
                continue
            if numeric and not _RESULT_CONTEXT.search(before):
                mentioned = i if mentioned is None else mentioned
                continue
            if not numeric or _concludes(text, m.end(), forms):
                return i
            stated = i if stated is None else stated
    return stated if stated is not None else mentioned


_RESULT_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")


def _concludes(text: str, end: int, forms: list[str]) -> bool:
    """Whether no other number is stated as a result after position ``end`` of ``text``."""
    for m in _RESULT_NUMBER.finditer(text, end):
        if m.group(0) not in forms and _RESULT_CONTEXT.search(text[max(end, m.start() - 12) : m.start()]):
            return False
    return True


def _needed(
    steps: list[Step], nums: list[set[str]], superseded: set[int], root: int | None, corrections: set[int] = frozenset()
) -> set[int]:  # type: ignore[assignment]
    """The root and, transitively, the first producers of the numbers needed steps use.

    ``corrections`` are checks that produce a value (see :func:`_answered_doubts`).
    """
    if root is None:
        return set()
    producer: dict[str, int] = {}
    backup: dict[str, int] = {}  # verification steps produce only when nothing else does
    for i, ns in enumerate(nums):
        table = producer if (steps[i].skill in _PRODUCERS or i in corrections) and i not in superseded else backup
        for n in ns:
            table.setdefault(n, i)
    needed = {root}
    # the root usually concludes from the step just before it (a rounding, a conversion)
    prev = next((j for j in range(root - 1, -1, -1) if steps[j].skill in _PRODUCERS and j not in superseded), None)
    if prev is not None and root - prev <= 3:
        needed.add(prev)
    stack = list(needed)
    while stack:
        s = stack.pop()
        deps = [producer.get(n, backup.get(n)) for n in nums[s]]
        if s > 0 and _is_lead_in(steps[s - 1]) and s - 1 not in superseded:
            deps.append(s - 1)  # "29524 * 3:" before "20000 * 3 = 60000": says what is computed
        for p in deps:
            if p is not None and p < s and p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def _is_lead_in(step: Step) -> bool:
    """A computation line that announces the next one: ends with ":" (or "= ?") and holds maths."""
    text = step.text.rstrip()
    return (
        step.skill in _PRODUCERS
        and text.endswith((":", "= ?", "=?"))
        and "\n" not in text
        and bool(re.search(r"\d\s*(?:[-+*/×^=]|\\times|\\cdot)", text))
    )


def _detours(steps: list[Step], needed: set[int]) -> list[bool]:
    """Steps inside an abandoned approach: from an "Alternatively ..." step to the next needed one."""
    out = []
    inside = False
    for i, step in enumerate(steps):
        if i in needed:
            inside = False
        elif _DETOUR.match(step.text):
            inside = True
        out.append(inside)
    return out


def _compress(step: Step, question: str) -> None:
    """Drop filler sentences and words of a kept step; sets ``compress`` when shorter.

    A kept sentence that starts a line in the step starts a line in the rewrite, so
    equation lines stay one per line.
    """
    kept: list[str] = []
    text = step.text
    for start, end, _ in units(text):
        sent = text[start:end].strip()
        has_maths = bool(_DISPLAY.search(sent))
        skill = label(sent, question=question)
        if not has_maths and skill in _DROP_SENTENCE:
            continue
        if skill == "self_correction" and "=" not in sent:
            continue  # "Wait, that's wrong, it is 5, not 6.": keep only the corrected computation
        if not has_maths and (skill == "planning" or _CHATTER.match(sent)) and not re.search(r"\d|\\\(|\$", sent):
            continue
        sent = _LEAD_IN.sub("", sent, count=1)
        sent = _strip_filler(sent)
        if sent:
            if kept:
                kept.append("\n" if _starts_line(text, start) else " ")
            kept.append(sent)
    if not kept:
        step.action = "delete"  # nothing but filler
        return
    rewritten = "".join(kept)
    if rewritten != step.text:
        step.action = "compress"
        step.rewritten = rewritten


def _starts_line(text: str, i: int) -> bool:
    """Whether only spaces and tabs stand between the last line break and ``text[i]``.

    Looks back over the blanks only, never slices ``text[:i]``: one slice per sentence
    made a long step quadratic.
    """
    j = i
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    return j > 0 and text[j - 1] == "\n"


def _strip_filler(sentence: str) -> str:
    """Remove opening filler and hedges; capitalise what is left. Numbers are never touched."""
    s = _FILLER_HEAD.sub("", sentence, count=1)
    s = _HEDGES.sub("", s)
    s = _TAG_QUESTION.sub(".", s).strip()
    first = s.split(" ", 1)[0].rstrip(",.:;")
    word = first.replace("'", "").isalpha() and (len(first) > 1 or bool(_LONE_LETTER.match(s)))
    if s and s[0].islower() and word:  # not "ln(x)", "e^x", "x is"
        s = s[0].upper() + s[1:]
    return s


def _drop_repeated_headings(steps: list[Step]) -> None:
    """Delete a kept heading ("Layer 4:") when the next kept step opens with it again."""
    kept = [s for s in steps if s.action != "delete"]
    for head, nxt in zip(kept, kept[1:]):
        h = _text(head).strip()
        if h.endswith(":") and len(h) <= 40 and _text(nxt).lstrip().startswith(h):
            head.action, head.rewritten = "delete", None


def _merge(steps: list[Step]) -> None:
    """Fold runs of short adjacent kept computation steps into one merged text.

    Adjacent means consecutive in the trace, or separated only by deleted hesitations.
    Prose sentences are joined by a space, equation lines (no closing ". ! ?") by a
    line break, so a merged block reads like the worked lines it came from.
    """
    run: list[Step] = []
    for step in steps + [None]:  # type: ignore[list-item]
        short = (
            step is not None
            and step.action != "delete"
            and step.skill in ("computation", "result_consolidation", "formula_application")
            and len(_text(step).split()) <= _MERGE_MAX_WORDS
            and not _DISPLAY.search(_text(step))
        )
        if short:
            run.append(step)
            continue
        if step is not None and step.action == "delete" and step.skill == "hesitation" and run:
            continue
        if len(run) > 1:
            line = _merged(run)
            for k, s in enumerate(run):
                s.action, s.rewritten = "merge", (line if k == 0 else "")
        run = []


def _merged(run: list[Step]) -> str:
    """The texts of a run of steps as one block: prose joined by spaces, equation lines by breaks."""
    ends = [_text(s).rstrip().endswith((".", "!", "?")) for s in run]  # kept texts are never blank
    parts = [_text(run[0])]
    for k in range(1, len(run)):
        parts.append((" " if ends[k - 1] and ends[k] else "\n") + _text(run[k]))
    return "".join(parts)


def _text(step: Step) -> str:
    return step.rewritten if step.rewritten is not None else step.text


def synthesise(steps: list[Step], answer: str | None) -> str:
    """The kept texts in order, then ``The answer is \\boxed{X}``."""
    parts = [_text(s) for s in steps if s.action != "delete" and _text(s)]
    if answer is not None:
        parts.append(f"The answer is \\boxed{{{answer}}}")
    return "\n".join(parts)


def _last_boxed(text: str) -> str | None:
    from leancot.grading import last_boxed  # grading is heavy (math-verify): import when needed

    return last_boxed(text)
