"""Statistics of a prune output directory: counts, token reduction, skill × action table.

The skill × action table is DRP's "token capture" view: for each skill, how many
of its tokens the pruner kept verbatim, kept in a shorter rewrite, merged into a
neighbour, or deleted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leancot import manifest
from leancot.errors import UsageError
from leancot.io import read_jsonl
from leancot.schema import ACTIONS
from leancot.tokens import count_tokens_batch


@dataclass
class PruneStats:
    """What ``leancot stats DIR`` shows."""

    records: int
    rejects: int
    verified: int
    tokens_before: int
    tokens_after: int
    reject_reasons: dict[str, int]
    skills: dict[str, dict[str, int]] = field(default_factory=dict)  # skill -> {action: tokens, "steps": n}
    methods: dict[str, int] = field(default_factory=dict)  # which pruner made the records: llm:<model>, heuristic:llm-fallback ...

    @property
    def reduction(self) -> float | None:
        """Fraction of tokens removed (0.6 = 60% fewer tokens)."""
        return 1 - self.tokens_after / self.tokens_before if self.tokens_before else None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "reduction": self.reduction, "input": self.records + self.rejects}


def load_stats(out_dir: str | Path, tokenizer: str | None = None) -> PruneStats:
    """Read a prune output directory and compute its statistics."""
    out_dir = Path(out_dir)
    stage = (manifest.read(out_dir) or {}).get("stage", "prune")
    if stage != "prune":
        raise UsageError(f"stats: {out_dir} is a {stage} output, not a prune output")
    if not (out_dir / "records.jsonl").exists():
        raise UsageError(f"stats: {out_dir} is not a prune output directory (no records.jsonl)")
    records = read_jsonl(out_dir / "records.jsonl")
    if records and "tokens_before" not in records[0]:
        raise UsageError(f"stats: {out_dir} does not hold prune records (no 'tokens_before')")
    rejects = read_jsonl(out_dir / "rejects.jsonl") if (out_dir / "rejects.jsonl").exists() else []
    reasons: dict[str, int] = defaultdict(int)
    for r in rejects:
        reasons[r["reason"]] += 1
    return PruneStats(
        records=len(records),
        rejects=len(rejects),
        verified=sum(bool(r.get("verified")) for r in records),
        tokens_before=sum(r["tokens_before"] for r in records),
        tokens_after=sum(r["tokens_after"] for r in records),
        reject_reasons=dict(reasons),
        skills=skill_action_tokens(records, tokenizer),
        methods=dict(Counter(r.get("method", "?") for r in records)),
    )


def skill_action_tokens(records: list[dict[str, Any]], tokenizer: str | None = None) -> dict[str, dict[str, int]]:
    """Tokens of the original steps per skill and action, plus 'steps' and 'after' (tokens left)."""
    steps = [s for r in records for s in r.get("steps", [])]
    before = count_tokens_batch([s["text"] for s in steps], tokenizer)
    after = count_tokens_batch([_kept_text(s) for s in steps], tokenizer)
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*ACTIONS, "steps", "after"), 0))
    for step, n_before, n_after in zip(steps, before, after):
        row = table[step["skill"]]
        row[step["action"]] += n_before
        row["steps"] += 1
        row["after"] += n_after
    return dict(sorted(table.items(), key=lambda kv: -sum(kv[1][a] for a in ACTIONS)))


def _kept_text(step: dict[str, Any]) -> str:
    if step["action"] == "delete":
        return ""
    # a merged run keeps its merged line on the first step and "" on the others
    rewritten = step.get("rewritten")
    return step["text"] if rewritten is None else rewritten
