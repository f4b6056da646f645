"""The skill taxonomy of DRP's skill-aware step decomposition, and an offline labeller.

DRP's teacher labels every step of a long reasoning trace with ONE skill, then decides
per step what to keep. The offline pruner does the same with lexical cues. The table
below is the contract: every ``Step.skill`` is one of its keys.

Why these twelve: they separate what a concise path needs (computation,
formula_application, case_analysis, fact_retrieval, result_consolidation, the corrected
value of a self_correction) from what R1-style traces add on top of it (hesitation,
restatement, repeated verification, planning chatter). ``restatement`` is split from
``problem_setup`` because a restatement is pure repetition (always deletable) while a
setup may introduce symbols and quantities that later steps use.
"""

from __future__ import annotations

import re
from functools import lru_cache

SKILLS: dict[str, str] = {
    "problem_setup": "Identifies the givens, the unknowns or defines variables/notation for the problem.",
    "restatement": "Repeats the problem statement, or what it asks for, without adding information.",
    "planning": "Says what to do next or which approach to take, without doing it.",
    "fact_retrieval": "Recalls a definition, theorem, identity or known fact.",
    "computation": "Carries out arithmetic, algebra or a deduction that produces a new value or expression.",
    "formula_application": "Substitutes concrete values into a named formula or recalled identity.",
    "case_analysis": "Splits the problem into cases/ranges, or opens one case of such a split.",
    "verification": "Re-checks a result already obtained (recomputing, plugging back, 'let me double-check').",
    "self_correction": "Notices an error and states the corrected value or reasoning.",
    "hesitation": "Expresses doubt, surprise or filler ('hmm', 'wait', 'let me think') with no new content.",
    "result_consolidation": "Collects or summarises intermediate results into a (partial) result.",
    "final_answer": "States the final answer of the problem.",
}

# Cue tables. Every pattern is anchored or bounded and linear (no nested quantifiers), so
# labelling is O(length) per sentence; see benchmarks/prune_quality.py for the speed.
_LEAD = r"\W*(?:(?:so|and|but|now|okay|ok|alright|well|then|also|hmm+|wait|oh|actually|no)\b\W*)*"


class _Cue:
    """A cue: an ``opening`` pattern matched at the start, or an ``anywhere`` pattern searched.

    Splitting the two keeps the regex engine from retrying the opening alternatives at
    every position of the sentence (it made labelling 2x slower). ``keys`` are literal
    substrings one of which every ``anywhere`` match contains: a sentence holding none of
    them skips the regex (``in`` on a short string is ~10x cheaper than a search).
    """

    def __init__(self, opening: str | None = None, anywhere: str | None = None, keys: tuple[str, ...] = ()):
        self.opening = re.compile(opening) if opening else None
        self.anywhere = re.compile(anywhere) if anywhere else None
        self.keys = keys

    def search(self, text: str) -> bool:
        if self.opening and self.opening.match(text):
            return True
        if self.anywhere is None:
            return False
        for key in self.keys:  # a plain loop: any() with a generator costs more than the tests
            if key in text:
                return bool(self.anywhere.search(text))
        return not self.keys and bool(self.anywhere.search(text))


# All cues run on lower-cased text.
_FINAL = _Cue(anywhere=r"\\boxed|\bfinal answer\b|\bthe answer (?:is|should be|would be)\b|\bthe answer\W*$")
_SELF_CORRECTION = _Cue(
    opening=_LEAD + r"(?:no,? actually|wait,? no\b|oops|correction\b)",
    anywhere=r"\b(?:i made a mistake|made an? (?:error|mistake)|that'?s (?:wrong|not right|incorrect)"
    r"|that (?:is|was) (?:wrong|incorrect)|this is wrong|was wrong|is incorrect|i messed up|my mistake"
    r"|that can'?t be right|i (?:think i )?miscalculated|miscount|should have been|i see the (?:error|mistake)"
    r"|i forgot)",
    keys=(
        "mistake",
        "error",
        "wrong",
        "not right",
        "incorrect",
        "messed up",
        "be right",
        "miscalc",
        "miscount",
        "should have been",
        "forgot",
    ),
)
_VERIFICATION = _Cue(
    opening=_LEAD + r"(?:(?:let me |let's |let us |i(?:'ll| will| should| can) |to |just to )?"
    r"(?:double[- ]?check|re-?check|check|verify|confirm|re-?verify|recount|re-?calculate|re-?compute"
    r"|cross[- ]?check|sanity[- ]check|make sure|test)\b|(?:yep|yes|correct|right|good)\b\W*\w{0,12}\W*$)",
    anywhere=r"\b(?:(?:that|this|it|which) (?:seems|looks|is|sounds) (?:right|correct|consistent|good|fine|reasonable)"
    r"|makes sense|checks out|consistent|double[- ]check|(?:way|want) to (?:double[- ]?)?check|calculations? (?:are|is) correct"
    r"|(?:am|i'm) confident)\b",
    keys=("right", "correct", "consistent", "good", "fine", "reasonable", "sense", "check", "confident"),
)
_HESITATION = _Cue(
    opening=_LEAD + r"(?:hmm+|wait|hold on|let me think|let's think|let me see|i'?m (?:a bit |a little |not )?"
    r"(?:confused|sure|unsure|not sure)|maybe i|i wonder|interesting|that seems (?:a bit )?(?:high|low|off|odd|strange)"
    r"|is that right|am i|did i)\b",
    anywhere=r"\b(?:i'?m (?:a bit |a little )?confused|not sure|i wonder|seems a bit|let me think)\b",
    keys=("confused", "not sure", "wonder", "seems a bit", "let me think"),
)
_RESTATE = _Cue(
    anywhere=r"\b(?:the (?:problem|question) (?:says|is|asks|states|gives|tells)|(?:we|i) (?:need|have|want) to "
    r"(?:find|compute|figure out|determine|calculate|solve)|(?:i|we)'?ve? (?:got|have) (?:this|a) (?:math )?problem"
    r"|problem (?:here|where))\b",
    keys=("problem", "question", "need to", "have to", "want to"),
)
_CASE = _Cue(
    opening=r"\W*(?:\d+\.\s*)?\W*(?:(?:case|subcase|scenario|option)\s*\w*\s*[:.)]|\*\*[^*\n]{1,60}:?\*\*"
    r"|(?:suppose|assume|alternatively|on the other hand)\b)",
    anywhere=r"\bin (?:this|the first|the second|each) case\b|\bif \S+ (?:is|=|<|>|\\[lg]eq?)\b",
    keys=("case", "if "),
)
_FACT = _Cue(
    anywhere=r"\b(?:i remember|recall|is known as|by definition|is defined (?:as|by)|we know that|i know that"
    r"|formula for|the formula|theorem|identity|property|the rule|is given by)\b",
    keys=(
        "remember",
        "recall",
        "known as",
        "definition",
        "defined",
        "know that",
        "formula",
        "theorem",
        "identity",
        "property",
        "the rule",
        "given by",
    ),
)
_FORMULA_APP = _Cue(
    anywhere=r"\b(?:substitut\w*|plug(?:ging)? in|plugging|apply(?:ing)? (?:the|this)|using (?:the|this) (?:formula"
    r"|identity|relation|theorem)|by the \w+ (?:formula|theorem|rule)|applying)\b",
    keys=("substitut", "plug", "apply", "using th", "by the"),
)
_CONSOLIDATE = _Cue(
    anywhere=r"\b(?:in total|total(?:ly)?|altogether|adding (?:up|these|them|all)|sum(?:ming)? up|overall|combining"
    r"|putting (?:it|this|these|everything) together|so,? there (?:are|is)|that gives (?:us )?a total|therefore|thus"
    r"|hence|so the (?:total|result|value|number|sum))\b",
    keys=("total", "altogether", "adding", "sum", "overall", "combining", "together", "there ", "therefore", "thus", "hence", "so the"),
)
_PLANNING = re.compile(
    _LEAD + r"(?:first|next|then|now|let me|let's|let us|i(?:'ll| will| should| need| can| could| might)"
    r"|we (?:can|need|should|will|could)|to (?:find|compute|solve|get|figure)|how (?:many|much|do|can)"
    r"|what (?:is|are|if)|maybe (?:i|we)|perhaps|the (?:plan|idea|approach|strategy|key)|step \d+|another (?:way|approach))\b"
)


# Maths: an operator between operands, LaTeX commands, or "which is/gives N".
_MATH = re.compile(
    r"[=×÷^]|\\(?:times|cdot|frac|dfrac|sqrt|sum|prod|binom|pm|le|ge)\b|\d\s*[-+*/]\s*\d"
    r"|\b(?:gives|equals|is equal to|which is|multiply|divide|subtract|add)\b.{0,40}\d"
)
_DIGIT = re.compile(r"\d")


def _has_math(low: str, has_digit: bool) -> bool:
    """``_MATH.search(low)``, answered without the regex when a character test settles it."""
    if "=" in low or "×" in low or "÷" in low or "^" in low:
        return True
    if not has_digit and "\\" not in low:
        return False  # every other alternative of _MATH needs a digit or a backslash
    return bool(_MATH.search(low))


def label(text: str, *, position: float = 0.5, question: str = "") -> str:
    """The one skill of a sentence or step ``text``.

    ``position`` is where the text starts in the trace (0 = start, 1 = end): setup and
    restatement are only recognised in the first fifth. ``question`` (optional) lets a
    near-verbatim copy of the problem be labelled ``restatement``. Cue precedence:
    final answer > self-correction > verification > hesitation > restatement > the
    content skills; a text with no cue is ``computation`` when it has maths, else
    ``planning`` (``problem_setup`` near the start).
    """
    t = text.strip()
    early, late, restating = _cues(t)
    if early:
        return early
    if position < 0.2 and (restating or _overlaps_question(t, question)) and not _computes_new_value(t, question):
        return "restatement"
    if late == "planning?":
        return "problem_setup" if position < 0.15 else "planning"
    return late


@lru_cache(maxsize=16384)
def _cues(t: str) -> tuple[str | None, str, bool]:
    """Position-free part of :func:`label`: ``(early skill or None, content skill, restating)``.

    Cached: the pruner labels the same sentences again when it compresses a step.
    """
    low = t.lower()
    head = low[:160]  # cues that open a sentence live in its first words
    words = low.count(" ") + 1
    has_digit = bool(_DIGIT.search(low))
    has_math = _has_math(low, has_digit)
    if ("boxed" in low or "answer" in low) and _FINAL.search(low):
        return "final_answer", "", False
    if _SELF_CORRECTION.search(head):
        return "self_correction", "", False
    if _VERIFICATION.search(head):
        return "verification", "", False
    if _HESITATION.search(head) and (words <= 6 or not (has_math or has_digit or "\\(" in low or "$" in low)):
        return "hesitation", "", False
    if words <= 3 and not has_digit and not has_math and "\\" not in low:
        return "hesitation", "", False  # "Okay." "Alright, so:" "Hmm."
    if low.endswith("?") and not has_math:
        return ("hesitation" if words <= 6 else None), "planning", False
    restating = _RESTATE.search(head)
    if _CASE.search(head):
        return None, "case_analysis", restating
    if _FACT.search(head):
        return None, "fact_retrieval", restating
    if _FORMULA_APP.search(head):
        return None, "formula_application", restating
    if has_digit and _CONSOLIDATE.search(head):
        return None, "result_consolidation", restating
    if has_math:
        return None, "computation", restating
    if _PLANNING.match(head):
        return None, "planning", restating
    return None, ("computation" if has_digit else "planning?"), restating


_WORD = re.compile(r"[a-z]{4,}|\d+")
_RESULT = re.compile(r"=\s*\$?(-?\d+(?:\.\d+)?)")


def _computes_new_value(text: str, question: str) -> bool:
    """True when ``text`` computes a value the question does not hold (``... so 3 * 7 = 21``):
    a step that quotes the question and then computes from it adds information."""
    given = set(re.findall(r"\d+(?:\.\d+)?", question))
    return any(v.lstrip("-") not in given for v in _RESULT.findall(text))


def _overlaps_question(text: str, question: str, threshold: float = 0.7) -> bool:
    """True when most content words of ``text`` are words of the question (a restatement)."""
    if not question:
        return False
    words = _WORD.findall(text.lower())
    if len(words) < 5:
        return False
    q = set(_WORD.findall(question.lower()))
    return sum(w in q for w in words) / len(words) >= threshold
