"""The report's tables as plain rows of strings, rendered alike into report.html and report.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leancot.report.collect import Collection, Run, num
from leancot.schema import ACTIONS


@dataclass
class Table:
    """A titled table of already formatted cells (text only; the renderers escape it)."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def all_tables(coll: Collection) -> dict[str, Table]:
    return {
        "runs": runs_table(coll),
        "eval": eval_table(coll),
        "budget": budget_table(coll),
        "compute": compute_table(coll),
        "prune": prune_table(coll),
        "answer-position": answer_position_table(coll),
        **{f"skills-{run.name}": skills_table(run.name, run.skills) for run in coll.prune if run.skills},
    }


# --------------------------------------------------------------------------- formatting


def fmt_int(v: Any) -> str:
    n = num(v)
    return "–" if n is None else f"{n:,.0f}"


def fmt_float(v: Any, digits: int = 1) -> str:
    n = num(v)
    return "–" if n is None else f"{n:,.{digits}f}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    n = num(v)
    return "–" if n is None else f"{100 * n:.{digits}f}%"


def fmt_bytes(v: Any) -> str:
    n = num(v)
    if n is None:
        return "–"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def fmt_flops(v: Any) -> str:
    n = num(v)
    if n is None:
        return "–"
    for unit, size in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.3g} FLOP"


def fmt_seconds(v: Any) -> str:
    n = num(v)
    if n is None:
        return "–"
    return f"{n:.1f} s" if n < 120 else f"{n / 60:.1f} min"


# --------------------------------------------------------------------------- tables


def runs_table(coll: Collection) -> Table:
    rows = [
        [r.name, r.stage, r.status, fmt_seconds(r.wall_seconds), str(r.manifest.get("started_at", "–")), _summary(r), str(r.path)]
        for r in coll.runs
    ]
    return Table("runs", "Runs", ["run", "stage", "status", "wall time", "started", "summary", "directory"], rows)


def _summary(run: Run) -> str:
    """One line on what a run is, by stage."""
    from leancot.report.collect import EvalRun, PruneRun, TrainRun

    if isinstance(run, PruneRun):
        return f"{run.records:,} records, {run.rejects:,} rejects; tokens {run.tokens_before:,} → {run.tokens_after:,} ({fmt_pct(run.ratio)} left)"
    if isinstance(run, TrainRun):
        parts = [f"student {run.setting('student')}" if run.setting("student") else "",
                 f"{run.setting('policy')} {run.lsp:g}" if run.lsp is not None and run.setting("policy") else f"lsp {run.lsp:g}" if run.lsp is not None else "",
                 "KD from " + str(run.setting("teacher")) if run.setting("teacher") else ""]  # fmt: skip
        return ", ".join(p for p in parts if p) or "–"
    if isinstance(run, EvalRun):
        trained = f" (trained in {run.train})" if run.train else ""
        return f"model {run.model or '?'}{trained}; {', '.join(run.benchmarks) or 'no results yet'}"
    return "–"


def eval_table(coll: Collection) -> Table:
    headers = ["run", "benchmark", "problems", "samples", "accuracy", "mean tokens", "median tokens", "tokens correct (mean / median)",
               "tokens wrong (mean / median)", "budget efficiency", "mean reasoning tokens", "truncated", "no answer",
               "generation time", "tokens/s"]  # fmt: skip
    rows = []
    for run in coll.eval:
        for bench, s in sorted(run.benchmarks.items()):
            rows.append([run.name, bench, fmt_int(s.get("problems")), str(s.get("samples_per_problem", "–")), fmt_pct(s.get("accuracy")),
                         fmt_float(s.get("mean_tokens")), fmt_float(s.get("median_tokens")),
                         fmt_mean_median(s, "correct"), fmt_mean_median(s, "wrong"), fmt_float(s.get("budget_efficiency"), 3),
                         fmt_float(s.get("mean_reasoning_tokens")), fmt_pct(s.get("truncation_rate")), fmt_pct(s.get("no_answer_rate")),
                         fmt_seconds(s.get("wall_s")), fmt_float(s.get("tokens_per_s"))])  # fmt: skip
    note = ("Wrong answers include those cut off and those with no answer. Budget efficiency: the area under accuracy within a "
            "token budget against log2(budget), from 256 tokens to the run's max_new_tokens, divided by that width.")  # fmt: skip
    return Table("eval", "Evaluation by benchmark", headers, rows, note=note if rows else "No evaluation results among these runs.")


def fmt_mean_median(s: dict[str, Any], label: str) -> str:
    """``"mean / median"`` tokens of the correct (``label`` "correct") or wrong answers of a summary."""
    mean, median = s.get(f"mean_tokens_{label}"), s.get(f"median_tokens_{label}")
    return "–" if num(mean) is None else f"{fmt_float(mean)} / {fmt_float(median)}"


def budget_table(coll: Collection) -> Table:
    """Accuracy within each token budget (``leancot.evaluate.budget``), per eval run and benchmark."""
    from leancot.evaluate.budget import BUDGETS, budget_label

    found = [(run.name, bench, s) for run in coll.eval for bench, s in sorted(run.benchmarks.items()) if s.get("budget_curve")]
    curves = [{int(b): a for b, a in s["budget_curve"]} for _, _, s in found]
    used = [b for b in BUDGETS if any(b in c for c in curves)]
    headers = ["run", "benchmark", *(f"≤ {budget_label(b)}" for b in used), "within max_new_tokens", "efficiency"]
    rows = []
    for (name, bench, s), curve in zip(found, curves):
        top = max(curve)
        cells = [fmt_pct(curve[b]) if b in curve else "–" for b in used]
        rows.append([name, bench, *cells, f"{fmt_pct(curve[top])} (≤ {budget_label(top)})", fmt_float(s.get("budget_efficiency"), 3)])
    note = ("The share of all answers that are correct, not cut off and at most that many output tokens long; the last budget is "
            "the run's own max_new_tokens (its longest answer where the run does not say). Efficiency: the normalised area under this curve on a log2 axis (1.0 = every answer "
            "right within the smallest budget).")  # fmt: skip
    return Table("budget", "Accuracy within a token budget", headers, rows, note=note if rows else "No budget curves among these runs.")


def compute_table(coll: Collection) -> Table:
    headers = ["run", "lsp", "sequences", "trained tokens", "loss tokens", "training time", "tokens/s", "peak memory", "FLOPs",
               "loss first → last", "device"]  # fmt: skip
    rows = []
    for t in coll.train:
        m = t.metrics
        loss = f"{fmt_float(m.get('loss_first'), 3)} → {fmt_float(m.get('loss_last'), 3)}" if m.get("loss_first") is not None else "–"
        rows.append([t.name, "–" if t.lsp is None else f"{t.lsp:g}", fmt_int(m.get("sequences")), fmt_int(m.get("trained_tokens")),
                     fmt_int(m.get("loss_tokens")), fmt_seconds(m.get("wall_seconds")), fmt_float(m.get("tokens_per_second")),
                     fmt_bytes(m.get("peak_memory_bytes")), fmt_flops(m.get("flops")), loss, str((m.get("extra") or {}).get("device", "–"))])  # fmt: skip
    note = "FLOPs: 6·N·T for the student (+ 2·N·T for a KD teacher). Peak memory: the CUDA allocator's peak on a GPU, the process's peak RSS on CPU."
    return Table("compute", "Training compute", headers, rows, note=note if rows else "No training runs among these runs.")


def prune_table(coll: Collection) -> Table:
    headers = ["run", "input", "records", "verified", "complete derivations", "rejects", "tokens before", "tokens after", "tokens left",
               "reject reasons"]  # fmt: skip
    rows = []
    for p in coll.prune:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(p.reject_reasons.items(), key=lambda kv: -kv[1])) or "–"
        rows.append([p.name, fmt_int(p.records + p.rejects), fmt_int(p.records), fmt_int(p.verified), fmt_int(p.complete), fmt_int(p.rejects),
                     fmt_int(p.tokens_before), fmt_int(p.tokens_after), fmt_pct(p.ratio), reasons])  # fmt: skip
    return Table("prune", "Pruned data", headers, rows, note="" if rows else "No prune runs among these runs.")


def skills_table(name: str, skills: dict[str, dict[str, int]]) -> Table:
    headers = ["skill", "steps", *ACTIONS, "tokens left", "left ÷ before"]
    rows = []
    for skill, row in skills.items():
        before = sum(row.get(a, 0) for a in ACTIONS)
        rows.append([skill, fmt_int(row.get("steps")), *(fmt_int(row.get(a)) for a in ACTIONS), fmt_int(row.get("after")),
                     fmt_pct(row.get("after", 0) / before if before else None)])  # fmt: skip
    note = "Tokens of the original steps by action; tokens left counts a merged line under the first merged step's skill, so a skill can pass 100%."
    return Table(f"skills-{name}", f"Tokens of each skill, by action: {name}", headers, rows, note=note)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """A histogram as one line of block characters (the tallest bin full, an empty bin a dot)."""
    top = max(counts, default=0)
    if not top:
        return "–"
    return "".join("·" if c == 0 else _BARS[min(len(_BARS) - 1, round((len(_BARS) - 1) * c / top))] for c in counts)


def answer_position_table(coll: Collection) -> Table:
    """Per prune run: where the original traces first derive their final answer (``leancot stats --answer-position``)."""
    headers = ["run", "traces", "answer derived", "median", "quartiles", "in the first half", "histogram (0-100%, 10% bins)"]
    rows = []
    for p in coll.prune:
        a = p.answer_positions
        if not a:
            continue
        derived = a.get("derived", 0)
        if derived:
            spread = f"{fmt_pct(a['q1'], 0)}-{fmt_pct(a['q3'], 0)}"
            half = f"{fmt_pct(a['within_first_half'] / derived, 0)} ({a['within_first_half']:,} of {derived:,})"
            rows.append([p.name, fmt_int(a["traces"]), fmt_int(derived), fmt_pct(a["median"], 0), spread, half, sparkline(a["histogram"])])
        else:
            rows.append([p.name, fmt_int(a["traces"]), "0", "–", "–", "–", "–"])
    note = ("Where each original trace first derives its final answer (leancot.prune.first_answer), as a share of its reasoning's "
            "characters. Lead-span truncation at X keeps a trace's derivation only when it comes before X: LSP 0.5 loses the "
            "answer of the traces outside the first half.")  # fmt: skip
    return Table(
        "answer-position",
        "Where the answer first appears",
        headers,
        rows,
        note=note if rows else "No prune runs with original traces among these runs.",
    )
