"""Which sentences of a trace a concise path keeps, read off its derivation graph.

Every offline pruner (heuristic, first-answer, perplexity) selects with the same rules, so a
path is a derivation by construction and the stage's check (``leancot.prune.derivation``) only
confirms it:

- **keep** the sentences of the computations the answer depends on (its dependency closure,
  :attr:`Graph.needed`) and the sentences they cite for a stated value;
- **keep** symbolic work that the closure cannot see (``3x = 90``, ``A = P(1 + r)^n``): a
  sentence with maths but no numeric computation, before the answer, outside checks and
  retracted passages;
- **drop** a retracted passage whole (the wrong computation, what it says, the correction
  chatter), every computation the answer does not need (a discarded reading, a re-check, an
  alternative approach), and everything after the sentence that derives the answer.

When no computation of the trace derives its answer (a symbolic answer, ``\\frac{3}{4}``, or an
answer only stated), :func:`select` returns None and the pruner falls back to its own step rules;
the retracted passages still go (:func:`retracted_only`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from leancot.prune.derivation import Graph
from leancot.prune.segment import step_offsets
from leancot.schema import Step

_CONTENT = {"computation", "formula_application", "case_analysis", "fact_retrieval", "result_consolidation", "problem_setup"}
_MATHS = re.compile(r"=|\\[a-z]+|[a-zA-Z]\s*[\^+*/×]|[\^+*/×]\s*[a-zA-Z(]|\d[a-z]\b")


@dataclass
class Selection:
    """Per sentence of the trace: kept, dropped (must go), or neither (a pruner's own choice)."""

    graph: Graph
    keep: set[int]
    drop: set[int]
    step_sentences: list[list[int]]  # the sentences of each step, in order
    root_step: int | None

    def kept_in(self, i: int) -> list[int]:
        return [k for k in self.step_sentences[i] if k in self.keep]

    def left_in(self, i: int) -> list[int]:
        """The sentences of step ``i`` that may stay when the step stays verbatim (all but the dropped)."""
        return [k for k in self.step_sentences[i] if k not in self.drop]


def step_sentences(graph: Graph, steps: list[Step]) -> list[list[int]]:
    """The sentences of the graph that each step holds (steps are exact slices of the reasoning, in order)."""
    starts = [s.start for s in graph.sentences]
    out = []
    for a, b in step_offsets(graph.reasoning, steps):
        lo = max(0, bisect.bisect_right(starts, a) - 1)
        out.append([k for k in range(lo, bisect.bisect_left(starts, b)) if graph.sentences[k].end > a])
    return out


def select(graph: Graph, steps: list[Step]) -> Selection | None:
    """The sentences a concise path keeps and drops (module docstring); None when no computation derives the answer."""
    root = graph.root_sentence
    if root is None:
        return None
    per_step = step_sentences(graph, steps)
    # a needed sentence stays even in a retracted passage: only its standing text goes into the path (Graph.standing_text)
    drop = (graph.retracted_sentences | graph.aside_sentences) - graph.needed_sentences | set(range(root + 1, len(graph.sentences)))
    drop |= {k for k, ids in graph.by_sentence.items() if k not in graph.needed_sentences}
    keep = {k for k in graph.needed_sentences if k <= root}
    keep |= {k for k in range(root + 1) if k not in drop and _symbolic(graph, k)}
    keep |= {k for k in range(root) if k + 1 in keep and _lead_in(graph, k)}
    drawn, cited = graph.closure({s for k in keep if k in graph.uses for s in graph.uses[k]})  # what kept formulas draw on
    keep |= {graph.statements[s].sentence for s in drawn} | cited
    drop -= keep
    root_step = next((i for i, ks in enumerate(per_step) if root in ks), None)
    return Selection(graph, keep, drop, per_step, root_step)


def retracted_only(graph: Graph, steps: list[Step]) -> Selection:
    """No derivation to select by: only the retracted passages and the dropped readings must go."""
    drop = set(graph.retracted_sentences) | (graph.aside_sentences - graph.needed_sentences)
    return Selection(graph, set(), drop, step_sentences(graph, steps), None)


_LEAD_IN = re.compile(r"\d\s*(?:[-+*/×^]|\\times|\\cdot)\s*\d[^=\n]*:\s*$")


def _lead_in(graph: Graph, k: int) -> bool:
    """A line that announces the computation after it: ``29524 * 3:``."""
    return bool(_LEAD_IN.search(graph.sentence_text(k)))


def _symbolic(graph: Graph, k: int) -> bool:
    """Maths the numeric graph cannot follow: an equation or formula with symbols, in a content sentence."""
    s = graph.sentences[k]
    if s.skill not in _CONTENT or k in graph.by_sentence:
        return False
    return bool(_MATHS.search(graph.reasoning[s.start : s.end]))


def joined(graph: Graph, ks: list[int], texts: list[str] | None = None) -> str:
    """Sentences ``ks`` (in order) as one text: a line break where the original had one before a sentence, else a space."""
    parts: list[str] = []
    for n, k in enumerate(ks):
        text = texts[n] if texts is not None else graph.standing_text(k)
        if not text:
            continue
        if parts:
            parts.append("\n" if _starts_line(graph, k) else " ")
        parts.append(text)
    return "".join(parts)


def _starts_line(graph: Graph, k: int) -> bool:
    """Whether only blanks stand between the last line break and sentence ``k``."""
    j = graph.sentences[k].start
    while j > 0 and graph.reasoning[j - 1] in " \t":
        j -= 1
    return j > 0 and graph.reasoning[j - 1] == "\n"
