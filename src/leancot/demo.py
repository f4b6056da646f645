"""``leancot demo``: the main job, offline, on 2 CPU cores.

It fetches the built-in student (whose tokenizer counts every token), prunes the
40 bundled real R1-Distill traces with the offline DRP pruner, and writes
``pruning.md`` with the figures it measured: how many traces were pruned and
rejected (and why), the token reduction, the skill × action table and the
agreement of our step decomposition with the traces' annotation. Unless
``quick``, it then runs the miniature lab at its small size and the CPU demo
recipe (a short SmolLM2-135M LoRA fine-tune on the pruned traces, evaluated
against the untuned model) and writes the HTML report over all of it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from leancot import data, manifest
from leancot.io import read_jsonl, write_text_atomic
from leancot.models import resolve
from leancot.prune.agreement import compare
from leancot.prune.config import PruneConfig
from leancot.prune.heuristic import prune_trace
from leancot.prune.stage import run
from leancot.prune.stats import PruneStats, load_stats
from leancot.schema import ACTIONS

log = logging.getLogger(__name__)


def run_demo(out: Path, *, quick: bool = False) -> Path:
    """Run the demo into ``out``; returns the path of the main report it wrote."""
    model_dir = resolve("smollm2-135m")
    log.info("built-in student at %s", model_dir)
    pruning = prune_and_describe(out)
    if quick:
        return pruning
    from leancot import pipeline
    from leancot.lab.config import LabConfig
    from leancot.lab.stage import run as run_lab

    run_lab(LabConfig(out=out / "lab", size="small"))
    runs = [str(out / d) for d in ("prune", "eval-base", "train", "eval", "lab/prune", "lab/seed0")]
    pipeline.run_recipe(CPU_DEMO, [f"report.runs={runs}"], out=out)
    return out / "report" / "report.html"


CPU_DEMO = Path(__file__).parent / "recipes" / "cpu-demo.yaml"
#: The demo's evaluations, as the cpu-demo recipe writes them: the untuned student, then the fine-tuned one.
EVALS = {"eval-base": "SmolLM2-135M", "eval": "SmolLM2 + LoRA"}


def achieved(out: Path) -> dict[str, Any]:
    """What the demo's runs achieved, read from the files they wrote (nothing is recomputed):
    ``prune`` (its manifest), ``lab`` (``lab_summary.json``), ``eval-base`` and ``eval`` (their
    ``summary.json``); a part the run did not reach (``--quick``) is absent."""
    found: dict[str, Any] = {}
    prune = manifest.read(out / "prune")
    if prune is not None:
        found["prune"] = prune
    lab = out / "lab" / "lab_summary.json"
    if lab.exists():
        found["lab"] = json.loads(lab.read_text(encoding="utf-8"))
    for name in EVALS:
        path = out / name / "summary.json"
        if path.exists():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def prune_and_describe(out: Path) -> Path:
    """Prune the bundled traces into ``out/prune`` and write ``out/pruning.md`` with the figures."""
    prune_dir = run(PruneConfig(input=data.traces_path(), out=out / "prune"))
    stats = load_stats(prune_dir)
    agreement = segmentation_agreement()
    report = out / "pruning.md"
    seconds = manifest.read(prune_dir)["wall_seconds"]["total"]
    write_text_atomic(report, render_report(prune_dir, stats, agreement, seconds))
    return report


def segmentation_agreement() -> dict[str, str]:
    """Our steps vs the annotator's chunks over the 40 bundled traces, pooled."""
    from leancot.grading import extract_answer, split_think

    bounds = {"ours": 0, "theirs": 0, "matched": 0}
    labelled = agreeing = closure_n = closure_kept = 0
    kappas = []
    for row in data.load_traces():
        reasoning = split_think(row["completion"])[0].strip()
        steps, _ = prune_trace(reasoning, extract_answer(row["completion"]), row["problem"])
        result = compare(steps, row["chunks"])
        for key in bounds:
            bounds[key] += result["boundaries"][key]
        labelled += result["labels"]["n"]
        agreeing += round(result["labels"]["accuracy"] * result["labels"]["n"])
        kappas.append(result["labels"]["kappa"])
        n = result["importance"]["n_answer_closure"]
        if n and result["importance"]["kept_answer_closure"] == result["importance"]["kept_answer_closure"]:
            closure_n += n
            closure_kept += result["importance"]["kept_answer_closure"] * n
    precision, recall = bounds["matched"] / bounds["ours"], bounds["matched"] / bounds["theirs"]
    return {
        "step boundaries that are annotator chunk boundaries (precision)": f"{precision:.1%}",
        "annotator chunk boundaries that start a step (recall; a step groups sentences)": f"{recall:.1%}",
        "skill labels agreeing with the annotator's function tag (per chunk)": f"{agreeing / labelled:.1%} of {labelled}",
        "Cohen's kappa of the labels (mean per trace)": f"{sum(kappas) / len(kappas):.3f}",
        "chunks the final answer depends on (annotator graph) that the pruner keeps": f"{closure_kept / closure_n:.1%} of {closure_n}",
    }


def render_report(prune_dir: Path, stats: PruneStats, agreement: dict[str, str], seconds: float) -> str:
    """The demo's report as Markdown: every figure comes from the run it describes."""
    lines = [
        "# leancot demo report",
        "",
        f"Pruned the {stats.records + stats.rejects} bundled R1-Distill traces offline (method `heuristic`) in {seconds:.1f} s.",
        "",
        "## Pruning",
        "",
        "| input | records | verified | rejects | tokens before | tokens after | reduction |",
        "|---|---|---|---|---|---|---|",
        f"| {stats.records + stats.rejects} | {stats.records} | {stats.verified} | {stats.rejects} | {stats.tokens_before:,} | "
        f"{stats.tokens_after:,} | {(stats.reduction or 0):.1%} |",
        "",
        "Rejects by reason: " + (", ".join(f"`{k}` {v}" for k, v in sorted(stats.reject_reasons.items())) or "none") + ".",
        "(A trace whose own answer is wrong is rejected as `incorrect_trace`: DRP distils only correct paths.)",
        "",
        *_skill_table(stats),
        "",
        *_per_trace_table(prune_dir),
        "",
        "## Step decomposition vs the annotator's chunks",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in agreement.items()),
    ]
    return "\n".join(lines) + "\n"


def _skill_table(stats: PruneStats) -> list[str]:
    rows = [
        "## Tokens of each skill, by action",
        "",
        "| skill | steps | " + " | ".join(ACTIONS) + " | tokens left |",
        "|---" * (len(ACTIONS) + 3) + "|",
    ]
    for skill, row in stats.skills.items():
        rows.append(f"| {skill} | {row['steps']} | " + " | ".join(f"{row[a]:,}" for a in ACTIONS) + f" | {row['after']:,} |")
    return rows


def _per_trace_table(prune_dir: Path) -> list[str]:
    rows = ["## Per trace", "", "| id | answer | tokens before | after | reduction | verified |", "|---|---|---|---|---|---|"]
    for r in read_jsonl(prune_dir / "records.jsonl"):
        cut = 1 - r["tokens_after"] / r["tokens_before"] if r["tokens_before"] else 0
        rows.append(f"| {r['id']} | `{r['answer']}` | {r['tokens_before']:,} | {r['tokens_after']:,} | {cut:.1%} | {r['verified']} |")
    return rows
