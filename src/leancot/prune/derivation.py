"""The derivation graph of a reasoning trace: which computation each number came from.

A pruned path is worth learning only if it is a derivation a student can follow: every number a
computation uses was derived before it (or given), the answer is derived, and nothing the trace
itself took back is kept. Matching values is not enough: in "Farm X has 55 − 10 = 45 left" and
"Farm Y starts with 45", a path that keeps "Total: 45 + 25 = 70" without "55 − 10 = 45" reads
as valid and is wrong. So :func:`build` reads the *original* trace once into a :class:`Graph`:

- **statements**: every computation (``leancot.prune.arithmetic``: operands, operation, result)
  with the sentence it stands in;
- **bindings**: each operand of a statement is bound to where its value came from, by these
  rules, in order:

  1. *derived*: the earlier statements whose result (or a value a chain writes out) is that value.
     When several *distinct* statements produced it, all of them are its sources: ambiguity costs
     tokens, never correctness. A repeated identical computation counts once (the first). A value
     the trace derived counts as derived even when the question also holds it. Statements the
     trace retracts are never sources; checks (a verification, an "Alternatively ..." passage, a
     recap) are sources only when no other statement produced the value;
  2. *question*: the question states the value (and no earlier statement derived it);
  3. *constant*: 0-10 and the constants of units (12, 24, 60, 100, 365, ...), known to any reader;
     a place-value part of a value just derived (``3 * 500`` inside ``3 * 29524``) comes from it;
  4. *mention*: the first earlier sentence that states the value without computing it ("a dozen
     is 12", "let the side be 13"): that sentence is the source;
  5. *unbound*: the original uses the value from nowhere; a path cannot be asked for more.

  **Units narrow, only where unambiguous.** When an operand is written with words after it
  ("9 liters of water + 6 liters of juice") and exactly one candidate's result carries the same
  words, while every other candidate carries different words, that one is the source. Words
  elsewhere in the sentence ("Total water: 9 + 6") never narrow: both 9s stay sources.
- **retracted** statements: before a self-correction ("that's wrong", "that doesn't make sense",
  "I see my mistake", "I misread"), the statements of the passage it takes back: those whose
  arithmetic is wrong, those built on them, and those whose result nothing after the correction
  uses (and that are not the answer). A wrong computation followed by the same computation done
  right is retracted too. The *retracted passage* (the wrong computation, what it says, the
  correction chatter after it) goes whole from a concise path;
- **the answer's sources**: the distinct statements whose result is the final answer (checks only
  when nothing else derives it), and, transitively, :attr:`Graph.needed`: every statement the
  answer depends on. A value stated early ("Start with Aurelia: $120") is not a derivation of an
  answer of 120; ``360 ÷ 3 = 120`` is.

:func:`check_path` then reads a pruned path against the graph (every pruner's path, the
teacher's included), and :func:`repair` puts the missing statements' sentences back in the
original order.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property, lru_cache

from leancot import numbers
from leancot.prune.arithmetic import Computation, computations
from leancot.prune.segment import units
from leancot.prune.skills import label
from leancot.schema import Step

CONSTANTS = frozenset(Fraction(n) for n in (*range(11), 12, 24, 30, 60, 90, 100, 180, 360, 365, 1000, 3600))
# A self-correction that takes back what came before it.
_RETRACT = re.compile(
    r"\b(?:(?:does ?n[o']t|doesn'?t) make (?:any )?sense|(?:does ?n[o']t|doesn'?t) (?:seem|look) (?:right|correct)|was a mistake|can'?t be right|cannot be right|(?:i )?see (?:my|the) (?:mistake|error)"
    r"|i misread|misread (?:it|the)|i misunderstood|that'?s not (?:right|correct|it)|that (?:is|was) (?:wrong|incorrect)"
    r"|i made (?:a|an) (?:mistake|error)|wait,? no\b|no,? wait\b|oops|scratch that|that'?s wrong|was wrong|i messed up"
    r"|my mistake|i miscalculated|miscalculat\w*|(?:is|are|was|were) (?:wrong|incorrect|backwards)"
    r"|i (?:flipped|mixed up|swapped|confused) (?:it|them|the)|should have (?:multiplied|divided|added|subtracted|used)"
    r"|(?:was|were) a misreading|misreading|throw (?:that|this|it) (?:out|away)|start (?:over|again)|scrap (?:that|this)"
    r"|discard (?:that|this)|let me redo (?:that|this|it)\b|mix(?:ing|ed) (?:it|them|the \w+) up)"
    r"|^\W*(?:hmm+\W+)?no[.!]",  # "Hmm, no. Reading it again, ..."
    re.I,
)
# Passages that re-derive what is known: they are sources only when nothing else derived the value.
_CHECK_OPEN = re.compile(
    r"^\W*(?:(?:but|so|hmm|wait|now|okay|ok|alright|and|also|just)\W+)*(?:alternatively|another (?:way|approach|method)"
    r"|let me try (?:another|a different)|(?:to|let me|let's|i'll) (?:re)?(?:cap|summari[sz]e|go (?:through|over))"
    r"|(?:so,? )?to recap|(?:\*\*)?(?:recap|summary|overall|in summary|summing up)\b|(?:let me|let's|i'll) (?:also |just |quickly |now )?(?:double[- ]?check|check|verify|recompute|re-?calculate|confirm|make sure)"
    r"|(?:let me|let's) (?:go|run) (?:through|over) (?:it|this|everything|the steps|each step)"
    r"|(?:\w+\W+){0,5}?(?:another|a different|a second) (?:way|approach|method|route)\b"
    r"|one more (?:time|check|pass)|final (?:check|pass)|(?:let me |let's )?sanity[- ]check|(?:with|using|try) (?:a|another) different (?:method|way))",
    re.I,
)
_ASIDE_OPEN = re.compile(
    r"^\W*(?:(?:hmm+|but|wait|now|or|and|so|ok|okay|also|alternatively)\W+)*(?:what if\b|could (?:it|this|that|they|the \w+|\"[^\"]{1,40}\") (?:also |instead )?mean\b"
    r"|does (?:it|this|that) mean\b|maybe it means\b|suppose (?:it|the|they|he|she|instead)\b|if i (?:read|take|misread)\b"
    r"|if (?:it|he|she|they|we|the \w+)\b[^.?!]{0,80}\bwould\b|had (?:it|he|she|they)\b[^.?!]{0,80}\bwould\b"
    r"|[^.?!\n]{0,80}\b(?:i'd have|i would have|would have (?:gotten|got|been|had)|would've))",
    re.I,
)
_ASIDE_CLOSE = re.compile(
    r"^\W*(?:no\b|nope\b|that'?s not\b|that (?:is|would be) (?:wrong|absurd|not)\b|but (?:the (?:problem|question)|it) (?:says|said|doesn'?t|does not|asks)\b"
    r"|i'?ll (?:drop|go with|stick)|so (?:it'?s|that'?s) not\b|that reading\b|(?:that|this) (?:doesn'?t|does not) (?:fit|match|make sense))",
    re.I,
)
_WINDOW_SENTENCES = 8  # how far back a correction can reach


@dataclass(frozen=True)
class Sentence:
    """A sentence (``leancot.prune.segment.units``) of the trace, with its skill."""

    start: int
    end: int
    paragraph: bool  # starts a paragraph
    skill: str


@dataclass(frozen=True)
class Statement:
    """A computation of the original trace."""

    id: int
    sentence: int
    comp: Computation
    check: bool  # in a verification, an alternative approach or a recap

    @property
    def text(self) -> str:
        return self.comp.text.strip()


@dataclass(frozen=True)
class Binding:
    """Where one operand's value came from (see the module docstring for the kinds)."""

    kind: str  # derived | question | constant | mention | unbound
    value: Fraction
    sources: tuple[int, ...] = ()  # statement ids, for "derived"
    mention: int | None = None  # sentence index, for "mention"


@dataclass
class Graph:
    """The derivation graph of one trace (built by :func:`build`)."""

    reasoning: str
    question: str
    sentences: list[Sentence]
    statements: list[Statement]
    bindings: list[list[Binding]]  # per statement, per operand
    first: list[int]  # per statement, the id of the first identical computation
    retracted: frozenset[int]
    retracted_sentences: frozenset[int]
    answer: Fraction | None
    answer_sources: tuple[int, ...]
    question_values: frozenset[Fraction] = field(default_factory=frozenset)
    uses: dict[int, tuple[int, ...]] = field(default_factory=dict)  # sentence without a computation -> statements it draws on
    aside_sentences: frozenset[int] = frozenset()  # a reading considered and dropped ("What if ...? No, ...")

    def sentence_text(self, k: int) -> str:
        s = self.sentences[k]
        return self.reasoning[s.start : s.end].strip()

    def standing_text(self, k: int) -> str:
        """Sentence ``k`` without what the trace retracts: the lines that hold a retracted computation go (a
        list's ``- Week total: 175 + 140 = 305``); a line that also holds a standing one keeps only the standing ones."""
        ids = self.by_sentence.get(k, [])
        gone = [self.statements[i] for i in ids if i in self.retracted]
        if not gone:
            return self.sentence_text(k)
        lines = []
        for line in self.sentence_text(k).split("\n"):
            if not any(st.text in line for st in gone):
                lines.append(line)
                continue
            kept = [self.statements[i].text for i in ids if i not in self.retracted and self.statements[i].text in line]
            if kept:
                lines.append(" ".join(kept))
        return "\n".join(lines).strip()

    def closure(self, roots: set[int] | tuple[int, ...]) -> tuple[set[int], set[int]]:
        """The statements ``roots`` depend on (themselves included) and the sentences they cite by mention."""
        stmts: set[int] = set()
        mentions: set[int] = set()
        stack = list(roots)
        while stack:
            s = stack.pop()
            if s in stmts:
                continue
            stmts.add(s)
            for b in self.bindings[s]:
                if b.kind == "derived":
                    stack.extend(b.sources)
                elif b.kind == "mention" and b.mention is not None:
                    mentions.add(b.mention)  # a sentence kept for a value it states: its own computations come along
                    stack.extend(i for i in self.by_sentence.get(b.mention, []) if i not in self.retracted)
        return stmts, mentions

    @cached_property
    def needed(self) -> frozenset[int]:
        """The statements the final answer depends on, transitively."""
        return frozenset(self.closure(self.answer_sources)[0])

    @cached_property
    def needed_sentences(self) -> frozenset[int]:
        """The sentences a complete path needs: those of :attr:`needed` and the mentions they cite."""
        stmts, mentions = self.closure(self.answer_sources)
        return frozenset({self.statements[s].sentence for s in stmts} | mentions)

    @property
    def root_sentence(self) -> int | None:
        """The last sentence that derives the answer (a concise path ends there), or None."""
        return max((self.statements[s].sentence for s in self.answer_sources), default=None)

    @cached_property
    def by_sentence(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for st in self.statements:
            out.setdefault(st.sentence, []).append(st.id)
        return out

    @cached_property
    def _by_core(self) -> dict[tuple, list[int]]:
        """Computation key without its words -> the statements with it, standing ones first."""
        out: dict[tuple, list[int]] = {}
        for st in sorted(self.statements, key=lambda st: (st.id in self.retracted, st.id)):
            out.setdefault(st.comp.key[:3], []).append(st.id)
        return out

    def match(self, comp: Computation) -> int | None:
        """The statement of the original that ``comp`` (a computation of a path) is: the same operands, operations
        and result, and the same words after the result where that tells two apart (a rewrite may drop them)."""
        ids = self._by_core.get(comp.key[:3])
        if not ids:
            return None
        exact = [i for i in ids if self.statements[i].comp.label == comp.label]
        return (exact or ids)[0]

    def sentence_of(self, offset: int) -> int:
        """Index of the sentence that holds character ``offset`` of the reasoning."""
        return max(0, bisect.bisect_right([s.start for s in self.sentences], offset) - 1)

    def describe(self, s: int) -> str:
        st = self.statements[s]
        return f"{numbers.spell(st.comp.result)} ({st.text})"


# --------------------------------------------------------------------------- building the graph


def build(reasoning: str, question: str = "", answer: str | None = None) -> Graph:
    """The derivation graph of ``reasoning`` (cached: every pruner and the verification share it)."""
    return _build(reasoning, question, answer)


@lru_cache(maxsize=64)
def _build(reasoning: str, question: str, answer: str | None) -> Graph:
    n = max(len(reasoning), 1)
    spans = units(reasoning)
    sentences = [Sentence(a, b, para, label(reasoning[a:b], position=a / n, question=question)) for a, b, para in spans]
    asides = _aside_passages(reasoning, sentences)
    checks = _check_sentences(reasoning, sentences) | asides
    statements: list[Statement] = []
    for k, sent in enumerate(sentences):
        for comp in computations(reasoning[sent.start : sent.end]):
            statements.append(Statement(len(statements), k, comp, k in checks))
    first = _first_of_each(statements)
    value = _answer_value(answer)
    qvalues = frozenset(numbers.values(_plain(question)))
    retracted = _retracted(reasoning, sentences, statements, value, qvalues)
    statements = _rederivations_after_answer(reasoning, sentences, statements, retracted, value)
    bindings, uses = _bind(reasoning, sentences, statements, first, retracted, qvalues)
    graph = Graph(reasoning=reasoning, question=question, sentences=sentences, statements=statements, bindings=bindings,
                  first=first, retracted=frozenset(retracted), retracted_sentences=frozenset(), answer=value,
                  answer_sources=_answer_sources(statements, first, retracted, value), question_values=qvalues,
                  uses=uses, aside_sentences=frozenset(asides))  # fmt: skip
    graph.retracted_sentences = frozenset(_retracted_passages(reasoning, graph))
    return graph


def _plain(text: str) -> str:
    from leancot.prune.arithmetic import normalise

    return normalise(text)


def _answer_value(answer: str | None) -> Fraction | None:
    v = numbers.value(answer)
    if v is None and answer:
        v = numbers.value(_plain(answer))
    return v


def _check_sentences(reasoning: str, sentences: list[Sentence]) -> set[int]:
    """Sentences that re-check or re-derive: verification, and from an opener of a check, an
    alternative or a recap to the end of its paragraph."""
    out: set[int] = set()
    inside = False
    carry = False  # an opener that ends its paragraph ("Let me double-check that.") opens the next one
    for k, s in enumerate(sentences):
        if s.paragraph:
            inside, carry = carry, False
        text = reasoning[s.start : s.end]
        if _CHECK_OPEN.match(text) or (s.skill == "verification" and _ANNOUNCES_CHECK.search(text) and not computations(text)):
            inside = True
            carry = k + 1 >= len(sentences) or sentences[k + 1].paragraph
        if inside or s.skill == "verification":
            out.add(k)
    return out


def _aside_passages(reasoning: str, sentences: list[Sentence]) -> set[int]:
    """Readings considered and dropped: from a hypothetical ("What if it meant ...", "Could 1 liter mean ...?")
    through the sentence that rejects it ("No, the problem says ..."), within a few sentences; a hypothetical that
    nothing rejects is its own sentence only (its computations are checks, not derivations)."""
    out: set[int] = set()
    for k, s in enumerate(sentences):
        if not _ASIDE_OPEN.match(reasoning[s.start : s.end]):
            continue
        close = next(
            (j for j in range(k + 1, min(len(sentences), k + 5)) if _ASIDE_CLOSE.match(reasoning[sentences[j].start : sentences[j].end])),
            None,
        )
        out |= set(range(k, (close if close is not None else k) + 1))
    return out


def _rederivations_after_answer(
    reasoning: str, sentences: list[Sentence], statements: list[Statement], retracted: set[int], answer: Fraction | None
) -> list[Statement]:
    """After the trace first states its answer ("So the answer is 120."), a computation of a value already
    derived re-checks it (a recap, a second method): it is a check, whatever it is called."""
    if answer is None:
        return statements
    said = _answer_said(reasoning, sentences, statements, answer)
    if said is None:
        return statements
    done: set[tuple] = set()  # the operands (order aside), operations and result of every standing computation
    out = []
    for st in statements:
        seen = (tuple(sorted(o.value for o in st.comp.operands)), st.comp.ops, st.comp.result)
        again = st.sentence > said and seen in done
        out.append(replace(st, check=True) if again and not st.check else st)
        if st.id not in retracted:
            done.add(seen)
    return out


_ANNOUNCES_CHECK = re.compile(r"\b(?:double[- ]?check|check|verify|make sure|confirm|sanity)\b", re.I)
_CONCLUDES = re.compile(r"^\W*(?:so|therefore|thus|hence|that means|this means)\b", re.I)


def _answer_said(reasoning: str, sentences: list[Sentence], statements: list[Statement], answer: Fraction) -> int | None:
    """The sentence where the trace first gives its answer: a final-answer sentence that states it, or a
    conclusion ("So Cato gets $120.") right after a computation of it."""
    derived_at = {st.sentence for st in statements if st.comp.result == answer and not st.check}
    for k, s in enumerate(sentences):
        text = reasoning[s.start : s.end]
        if answer not in numbers.values(_plain(text)):
            continue
        if s.skill == "final_answer" or (_CONCLUDES.match(text) and {k - 1, k - 2} & derived_at and k not in derived_at):
            return k
    return None


def _first_of_each(statements: list[Statement]) -> list[int]:
    seen: dict[tuple, int] = {}
    return [seen.setdefault(st.comp.key, st.id) for st in statements]


_NO_SOURCE_SKILLS = {"hesitation", "restatement", "planning", "verification"}


def _bind(
    reasoning: str,
    sentences: list[Sentence],
    statements: list[Statement],
    first: list[int],
    retracted: set[int],
    qvalues: frozenset[Fraction],
) -> tuple[list[list[Binding]], dict[int, tuple[int, ...]]]:
    """Every operand's binding, in trace order; and for each sentence, the statements that produced the
    values its words use outside its own computations (a formula ``A = P(1 + 0.005)^12``, a lead-in
    ``29524 * 3:``, "Split 1,020 into 1,000 + 20:" above its list): kept, it needs them."""
    producers: dict[Fraction, list[int]] = {}  # value -> statements that produced it, first of each identical group
    mentions: dict[Fraction, list[tuple[int, bool]]] = {}  # value -> sentences that state it (and whether they are content)
    by_sentence: dict[int, list[Statement]] = {}
    for st in statements:
        by_sentence.setdefault(st.sentence, []).append(st)
    out: list[list[Binding]] = []
    uses: dict[int, tuple[int, ...]] = {}
    said: list[set[Fraction]] = []  # the values each sentence states
    for k, sent in enumerate(sentences):
        here = by_sentence.get(k, [])
        values = numbers.values(_plain(reasoning[sent.start : sent.end]))
        recent = values.union(*said[-2:])  # what a place-value split can split: "Split 1,020 into 1,000 + 20"
        for st in here:
            out.append([_binding(op, statements, producers, mentions, qvalues, recent) for op in st.comp.operands])
            if st.id not in retracted and first[st.id] == st.id:
                for v in st.comp.produced:
                    producers.setdefault(v, []).append(st.id)
        own = {v for st in here for v in (*st.comp.produced, *(x for op in st.comp.operands for x in op.forms))}
        found = {s for v in values - own - CONSTANTS - qvalues for s in producers.get(v, ()) if statements[s].sentence != k}
        if found:
            uses[k] = tuple(sorted(found))
        for v in values:
            mentions.setdefault(v, []).append((k, sent.skill not in _NO_SOURCE_SKILLS))
        said.append(values)
    return out, uses


def _binding(op, statements: list[Statement], producers, mentions, qvalues, recent: set[Fraction]) -> Binding:  # noqa: ANN001
    cands = list(dict.fromkeys(s for f in op.forms for s in producers.get(f, ())))
    if cands:
        plain = [s for s in cands if not statements[s].check]
        cands = plain or cands
        return Binding("derived", op.value, tuple(_narrow(op, cands, statements)))
    if op.forms & qvalues:
        return Binding("question", op.value)
    if op.forms & CONSTANTS:
        return Binding("constant", op.value)
    whole = _whole_of(op.value, producers, recent)
    if whole:  # "3 * 500" inside "3 * 29524" done by place value: 500 comes from 29524
        return Binding("derived", op.value, tuple(whole))
    said = sorted(m for f in op.forms for m in mentions.get(f, ()))
    if said:  # the last sentence of content that states it ("That's 49 numbers"), else the last that does
        mention = next((k for k, content in reversed(said) if content), said[-1][0])
        return Binding("mention", op.value, mention=mention)
    return Binding("unbound", op.value)


def _whole_of(v: Fraction, producers: dict[Fraction, list[int]], recent: set[Fraction]) -> list[int]:
    """The producers of a value written in this sentence or the two before it that ``v`` is a place-value
    part of (``500`` of ``29524`` after "29524 * 3:", ``20`` of ``1,020`` after "Split 1,020 into 1,000 + 20")."""
    if v <= 0 or v.denominator != 1:
        return []
    for k in sorted(recent, reverse=True):
        if k > v and k.denominator == 1 and k in producers and _part_of(int(k), int(v)):
            return producers[k]
    return []


def _part_of(big: int, part: int) -> bool:
    """Whether ``part`` is a run of the digits of ``big`` in place (higher and lower digits zeroed)."""
    high = 10
    while high <= big * 10:
        low = 1
        while low < high:
            if big % high - big % low == part:
                return True
            low *= 10
        high *= 10
    return False


def _narrow(op, cands: list[int], statements: list[Statement]) -> list[int]:  # noqa: ANN001
    """Candidates narrowed by the words after the operand, only where that is unambiguous (module docstring)."""
    if len(cands) < 2 or not op.label:
        return cands
    same = [s for s in cands if statements[s].comp.label == op.label]
    others = [s for s in cands if s not in same]
    if len(same) == 1 and all(statements[s].comp.label for s in others):
        return same
    return cands


def _is_cue(reasoning: str, s: Sentence) -> bool:
    return s.skill != "verification" and (s.skill == "self_correction" or bool(_RETRACT.search(reasoning[s.start : s.end])))


_NEGATED = re.compile(r"\b(?:not|instead of|rather than)\s+((?:the\s+)?\$?\d[\d,.]*)", re.I)
_NAMED_LOOKBACK = 16  # sentences: how far back a correction that names a value ("the count of 4 is wrong") reaches


def _retracted(
    reasoning: str, sentences: list[Sentence], statements: list[Statement], answer: Fraction | None, qvalues: frozenset[Fraction]
) -> set[int]:
    """The statements a later self-correction takes back (module docstring)."""
    by_sentence: dict[int, list[int]] = {}
    for st in statements:
        by_sentence.setdefault(st.sentence, []).append(st.id)
    out: set[int] = set()
    last_cue = -1
    for u, s in enumerate(sentences):
        if not _is_cue(reasoning, s):
            continue
        window = _window(sentences, by_sentence, u, last_cue)
        taken = _taken_back(statements, window, u, answer)
        taken += [i for i in by_sentence.get(u, []) if not statements[i].comp.correct]  # "7 × 8 = 54, no wait"
        named = _named_by_correction(reasoning, sentences, by_sentence, statements, u) - qvalues - {answer}
        earlier = [i for k in range(max(0, u - _NAMED_LOOKBACK), u) for i in by_sentence.get(k, [])]
        # "the count of 4 is wrong", "3 hours 20 minutes is not 3.20 hours": what computed or used the value named goes
        accused = [i for i in earlier if not statements[i].check
                   and (statements[i].comp.result in named or _operand_values(statements[i]) & (named - CONSTANTS))]  # fmt: skip
        taken += [i for i in accused if not _used_after(statements, statements[i], u)]
        # one that something after uses stays, unless it is built on what was taken back ("210 ÷ 42 = 5" on "6 × 7 = 42")
        made = {v for i in taken for v in statements[i].comp.produced}
        taken += [i for i in accused if i not in taken and _operand_values(statements[i]) & made]
        out |= _with_dependants(statements, sorted(set(window) | set(earlier)), set(taken), u)
        last_cue = u
    for st in statements:  # a slip done right later: "7 × 8 = 54 ... 7 × 8 = 56"
        if not st.comp.correct and any(_same_question(st, later) and later.comp.correct for later in statements[st.id + 1 :]):
            out.add(st.id)
    return _built_on(statements, out, answer)


def _built_on(statements: list[Statement], taken: set[int], answer: Fraction | None) -> set[int]:
    """``taken`` and, transitively, the statements right after one of them that use its result and whose own
    result nothing that stands uses: ``45,000 + 800 = 45,800`` after the slip ``20 × 45 = 800``."""
    out = set(taken)
    for st in statements:
        if st.id in out or (answer is not None and st.comp.result == answer):
            continue
        made = {v for t in out if t < st.id and st.sentence <= statements[t].sentence + _WINDOW_SENTENCES
                for v in statements[t].comp.produced}  # fmt: skip
        if made and _operand_values(st) & made and not _used_after(statements, st, st.sentence):
            out.add(st.id)
    return out


def _named_by_correction(
    reasoning: str, sentences: list[Sentence], by_sentence: dict[int, list[int]], statements: list[Statement], u: int
) -> set[Fraction]:
    """The values a correction names as wrong ("the chicken count of 4 and everything built on it is wrong"): in its
    sentence and the explanation after it, up to the next computation or paragraph, less the values of the
    computations the correction itself makes ("that's wrong, 7 × 8 = 56")."""
    said: set[Fraction] = set()
    k = u
    while k < len(sentences) and (k == u or (not sentences[k].paragraph and k not in by_sentence)) and k - u < 4:
        text = _plain(reasoning[sentences[k].start : sentences[k].end])
        if k == u:  # the correction itself: every value it names ("the 42 a week is wrong")
            said |= {n.value for n in numbers.tokens(text)}
        else:  # its explanation: the values it says are not so ("3 hours 20 minutes is not 3.20 hours")
            said |= {n.value for m in _NEGATED.finditer(text) for n in numbers.tokens(m.group(1))}
        k += 1
    own = [statements[i] for i in by_sentence.get(u, [])]
    return said - {v for st in own for v in (*st.comp.produced, *(op.value for op in st.comp.operands))}


def _window(sentences: list[Sentence], by_sentence: dict[int, list[int]], u: int, last_cue: int) -> list[int]:
    """The statements a correction at sentence ``u`` may take back: its passage (the paragraph of the
    last statement before it), never past the previous correction."""
    found: list[int] = []
    k = u - 1
    while k >= max(last_cue, 0) and u - k <= _WINDOW_SENTENCES:  # the previous correction's own computations too
        found = by_sentence.get(k, []) + found
        if sentences[k].paragraph and found:
            break
        k -= 1
    return found


def _used_after(statements: list[Statement], st: Statement, u: int) -> bool:
    """Whether a computation from sentence ``u`` on (not a re-check) uses ``st``'s result: the correction's own
    computations count ("hmm no. 4*100=400, ...")."""
    result = st.comp.result
    return any(result in op.forms for later in statements if later.sentence >= u and later.id > st.id and not later.check
               for op in later.comp.operands)  # fmt: skip


def _taken_back(statements: list[Statement], window: list[int], u: int, answer: Fraction | None) -> list[int]:
    """The window's statements the correction at sentence ``u`` takes back: the wrong ones, and those whose
    result nothing that stands uses (a later statement of the window that stands, or one after the correction),
    the answer aside. Decided from the last statement back, so a use by a statement taken back does not count."""
    taken: set[int] = set()
    for i in reversed(window):
        st = statements[i]
        if not st.comp.correct:
            taken.add(i)
            continue
        if answer is not None and st.comp.result == answer:
            continue
        users = [j for j in window if j > i and j not in taken and st.comp.result in _operand_values(statements[j])]
        if not users and not _used_after(statements, st, u):
            taken.add(i)
    return sorted(taken)


def _operand_values(st: Statement) -> set[Fraction]:
    return {v for op in st.comp.operands for v in op.forms}


def _same_question(a: Statement, b: Statement) -> bool:
    """The same operands and operations (the result aside): a slip and its correction."""
    return sorted(o.value for o in a.comp.operands) == sorted(o.value for o in b.comp.operands) and a.comp.ops == b.comp.ops


def _with_dependants(statements: list[Statement], window: list[int], taken: set[int], u: int) -> set[int]:
    """``taken`` and the statements of the window built on them whose results nothing after the correction uses."""
    out = set(taken)
    for i in window:
        if i in out:
            continue
        made = set().union(*(statements[t].comp.produced for t in out)) if out else set()
        built_on = any(op.forms & made for op in statements[i].comp.operands) and any(t < i for t in out)
        if built_on and not _used_after(statements, statements[i], u):
            out.add(i)
    return out


def _retracted_passages(reasoning: str, graph: Graph) -> set[int]:
    """Sentences that go with the retracted statements: from the first of them through the
    correction and the chatter right after it, except sentences with statements that stand."""
    out: set[int] = set()
    by_sentence = graph.by_sentence
    taken_sentences = sorted({graph.statements[s].sentence for s in graph.retracted})
    for k in taken_sentences:
        if k in out:
            continue
        u = next(
            (j for j in range(k, min(len(graph.sentences), k + _WINDOW_SENTENCES + 1)) if _is_cue(reasoning, graph.sentences[j])), None
        )
        end = u if u is not None else k
        for j in range(k, end + 1):
            if all(s in graph.retracted for s in by_sentence.get(j, [])):
                out.add(j)
        j = end + 1
        while j < len(graph.sentences) and not by_sentence.get(j) and graph.sentences[j].skill in ("hesitation", "self_correction"):
            out.add(j)
            j += 1
    return out


def _answer_sources(statements: list[Statement], first: list[int], retracted: set[int], answer: Fraction | None) -> tuple[int, ...]:
    """The distinct statements that derive the answer (checks only when nothing else does)."""
    if answer is None:
        return ()
    found = [st for st in statements if st.comp.result == answer and st.id not in retracted and first[st.id] == st.id]
    plain = [st.id for st in found if not st.check]
    return tuple(plain or [st.id for st in found])


# --------------------------------------------------------------------------- checking a path


@dataclass(frozen=True)
class Gap:
    """What keeps a path from being a complete derivation."""

    kind: str  # missing | order | retracted | answer | unsupported
    statement: int | None  # the original statement that is missing (or retracted), if any
    value: Fraction | None = None
    used_by: str = ""  # the path's computation that needs it
    mention: int | None = None  # the sentence to put back, for a value the original stated without computing


@dataclass
class PathCheck:
    """The result of :func:`check_path`."""

    gaps: list[Gap]
    statements: int  # computations in the path
    matched: int  # of them, computations of the original

    @property
    def complete(self) -> bool:
        return not self.gaps

    def reason(self, graph: Graph) -> str:
        """The first gap as a reject reason: ``incomplete_derivation: 45 (55 − 10 = 45) not derived before 45 + 25 = 70``."""
        if not self.gaps:
            return ""
        g = self.gaps[0]
        what = graph.describe(g.statement) if g.statement is not None else numbers.spell(g.value) if g.value is not None else "?"
        if g.kind == "retracted":
            return f"retracted_kept: {what} is taken back by the trace"
        if g.kind == "answer":
            return f"incomplete_derivation: the answer {what} is not derived"
        if g.kind == "order":
            return f"incomplete_derivation: {what} comes after {g.used_by}, which uses it"
        if g.kind == "unsupported":
            return f"incomplete_derivation: {what} in {g.used_by} comes from nowhere"
        return f"incomplete_derivation: {what} not derived before {g.used_by}"

    def summary(self) -> dict[str, object]:
        return {"complete": self.complete, "statements": self.statements, "matched": self.matched, "gaps": len(self.gaps)}


@dataclass(frozen=True)
class _PathComp:
    offset: int  # in the path
    comp: Computation
    original: int | None  # the original statement it is (by key)


def _path_computations(graph: Graph, path: str) -> list[_PathComp]:
    out = []
    for a, b, _ in units(path):
        for comp in computations(path[a:b]):
            out.append(_PathComp(a + comp.start, comp, graph.match(comp)))
    return out


def check_path(graph: Graph, path: str) -> PathCheck:
    """Whether ``path`` is a complete, in-order derivation of the answer by ``graph``'s rules.

    A path passes when every operand of a computation it keeps is bound to computations kept
    earlier in the path (all of its sources), or to the question where the original derived the
    value nowhere earlier; when every source of the answer is kept; and when no kept computation
    is one the original retracts. A computation the original does not have (a teacher's rewrite)
    must be right and use only values the path or the question already holds.
    """
    comps = _path_computations(graph, path)
    said = _first_said(path)
    at: dict[tuple, int] = {}  # a computation's arithmetic (operands, operations, result) -> its first position in the path
    gaps: list[Gap] = []
    for pos, pc in enumerate(comps):
        if pc.original is None:
            gaps += _novel_gaps(graph, path, comps, pos)
            continue
        if pc.original in graph.retracted:
            gaps.append(Gap("retracted", pc.original, used_by=pc.comp.text.strip()))
            continue
        at.setdefault(_core(graph, pc.original), pos)
        gaps += _operand_gaps(graph, path, pc, pos, at, said)
    novel = any(pc.original is None and pc.comp.result == graph.answer for pc in comps)  # a new computation of the answer
    for s in graph.answer_sources:
        if _core(graph, s) not in at and not novel:
            gaps.append(Gap("answer", s, graph.answer))
    # an operand whose source comes later in the path: the order is wrong, not only the content
    gaps = [Gap("order", *_fields(g)[1:]) if g.kind == "missing" and g.statement is not None and _core(graph, g.statement) in at else g
            for g in gaps]  # fmt: skip
    return PathCheck(gaps, len(comps), sum(pc.original is not None for pc in comps))


def _core(graph: Graph, s: int) -> tuple:
    """A statement's arithmetic, its words aside: a path that writes ``2 * 7 = 14`` has the original's
    ``2 * 7 = 14 candies`` (the words only tell apart which statement a path's computation stands for)."""
    return graph.statements[s].comp.key[:3]


def _first_said(path: str) -> dict[Fraction, int]:
    """Where each value is first written in ``path`` (a percent also as its share)."""
    out: dict[Fraction, int] = {}
    for n in numbers.tokens(path):
        for v in n.forms():
            out.setdefault(v, n.start)
    return out


def _operand_gaps(graph: Graph, path: str, pc: _PathComp, here: int, at: dict[tuple, int], first_said: dict[Fraction, int]) -> list[Gap]:
    """The sources of ``pc`` (the path's computation at position ``here``) that the path lacks before it."""
    out = []
    assert pc.original is not None
    mine = _core(graph, pc.original)
    for b in graph.bindings[pc.original]:
        if b.kind == "derived":
            for s in b.sources:
                if at.get(_core(graph, s), here) >= here and _core(graph, s) != mine:
                    out.append(Gap("missing", s, b.value, pc.comp.text.strip()))
        elif b.kind == "mention" and b.mention is not None:
            if first_said.get(b.value, len(path)) >= pc.offset:
                out.append(Gap("missing", None, b.value, pc.comp.text.strip(), mention=b.mention))
    return out


def _novel_gaps(graph: Graph, path: str, comps: list[_PathComp], pos: int) -> list[Gap]:
    """A computation the original does not write: it must be right and use values the path already has."""
    pc = comps[pos]
    if not pc.comp.correct:
        return [Gap("unsupported", None, pc.comp.result, pc.comp.text.strip())]
    known = set(graph.question_values) | CONSTANTS | numbers.values(_plain(path[: pc.offset]))
    for earlier in comps[:pos]:
        known |= earlier.comp.produced
    return [Gap("unsupported", None, op.value, pc.comp.text.strip()) for op in pc.comp.operands if not op.forms & known]
    # (an unsupported novel computation of the answer also fails here, so "novel" in check_path needs no check of its own)


def _fields(g: Gap) -> tuple:
    return (g.kind, g.statement, g.value, g.used_by, g.mention)


# --------------------------------------------------------------------------- repair


def repair(graph: Graph, path: str, max_rounds: int = 30) -> tuple[str, list[int]] | None:
    """``path`` with the sentences of its missing statements put back in the original order:
    ``(path, restored sentence indices)``; None when it cannot be made complete (a retracted
    computation is kept, or a computation comes from nowhere)."""
    restored: list[int] = []
    for _ in range(max_rounds):
        result = check_path(graph, path)
        if result.complete:
            return path, sorted(restored)
        if any(g.kind in ("retracted", "unsupported") for g in result.gaps):
            return None
        wanted = sorted({_sentence_for(graph, g) for g in result.gaps} - set(restored))
        if not wanted:
            return None
        path = _insert(graph, path, wanted)
        restored += wanted
    return None


def _sentence_for(graph: Graph, g: Gap) -> int:
    if g.mention is not None:
        return g.mention
    assert g.statement is not None
    return graph.statements[graph.first[g.statement]].sentence


def restored_text(graph: Graph, k: int) -> str:
    """What goes back for sentence ``k``: :meth:`Graph.standing_text`."""
    return graph.standing_text(k)


def _insert(graph: Graph, path: str, wanted: list[int]) -> str:
    """Insert the sentences ``wanted`` into ``path`` where they stood in the original, each on its own line."""
    pieces = _pieces(path)
    anchors = _anchors(graph, path, pieces)
    inserts: dict[int, list[str]] = {}
    for k in wanted:
        where = bisect.bisect_right(anchors, graph.sentences[k].start)
        inserts.setdefault(where, []).append(restored_text(graph, k))
    out = []
    prev = 0
    for i, (a, _) in enumerate(pieces + [(len(path), len(path))]):
        if i in inserts:
            head = path[prev:a].rstrip()
            out.append(head + ("\n" if head else "") + "\n".join(inserts[i]) + "\n")
            prev = a
    out.append(path[prev:])
    return "".join(out)


def _pieces(path: str) -> list[tuple[int, int]]:
    """The path's sentences, each cut at its line breaks too: a restored sentence can go between any two."""
    out = []
    for a, b, _ in units(path):
        start = a
        for i in (j for j in range(a, b) if path[j] == "\n"):
            if path[start:i].strip():
                out.append((start, i + 1))
            start = i + 1
        if path[start:b].strip():
            out.append((start, b))
    return out


def _anchors(graph: Graph, path: str, pieces: list[tuple[int, int]]) -> list[float]:
    """For each piece of the path, where it stands in the original (nondecreasing; the closing answer line last)."""
    anchors: list[float] = []
    pos = 0
    for a, b in pieces:
        text = path[a:b].strip()
        where: float | None = None
        if text.startswith("The answer is") and b >= len(path.rstrip()):
            where = float("inf")
        elif len(text) >= 6:
            found = graph.reasoning.find(text, pos)
            if found < 0:
                found = graph.reasoning.find(text)
            if found >= 0:
                where = found
        if where is None:
            ids = [graph.match(c) for c in computations(text)]
            starts = [graph.sentences[graph.statements[i].sentence].start for i in ids if i is not None]
            where = min(starts) if starts else None
        if where is None:
            where = anchors[-1] if anchors else 0
        where = max(where, anchors[-1]) if anchors else where
        anchors.append(where)
        if where != float("inf"):
            pos = int(where)
    return anchors


def restore_steps(graph: Graph, steps: list[Step], restored: list[int]) -> list[Step]:
    """``steps`` with the sentences ``restored`` put back: a deleted step that holds one is compressed to them."""
    from leancot.prune.segment import step_offsets

    back: dict[int, list[int]] = {}
    bounds = step_offsets(graph.reasoning, steps)
    for k in restored:
        start = graph.sentences[k].start
        i = next((i for i, (a, b) in enumerate(bounds) if a <= start < b), None)
        if i is not None:
            back.setdefault(i, []).append(k)
    out = []
    for i, s in enumerate(steps):
        if i in back and s.action == "delete":
            text = "\n".join(restored_text(graph, k) for k in sorted(back[i]))
            s = s.model_copy(update={"action": "keep" if text == s.text else "compress", "rewritten": None if text == s.text else text})
        out.append(s)
    return out
