"""What DRP's two teacher calls cost per trace: segmentation by unit ids vs verbatim.

    python benchmarks/teacher_cost.py [--lab 100]

For each trace the script builds the exact requests leancot sends (``leancot.prune.teacher``)
and the answer an ideal teacher gives in each mode -- the offline pruner's own steps, written
as unit starts (``--segment-output units``, the default: ``{"start": 4, "skill": ...}``) or
copied verbatim (``text``, the paper's way) -- and the compression answer (the same in both
modes). It does so twice: with the offline pruner's fine steps (about one per sentence) and
with consecutive steps of one skill merged, as a teacher that groups more coarsely would. It counts the tokens of
every message and answer and prices them at GPT-4o and GPT-4o-mini list prices, live and
through the Batch API (half price). Two trace sets: the 20 correct real R1-Distill traces
(MATH level 5) and the lab teacher's GSM8K-style word-problem traces.

Tokens are counted with the SmolLM2 tokenizer (GPT-4o's o200k encoding cannot be fetched
here); the ratios between the modes do not depend much on the tokenizer, the dollar figures
somewhat do.
"""

from __future__ import annotations

import argparse
import json
import statistics

from leancot import data, grading
from leancot.lab.problems import generate
from leancot.lab.teacher import write_trace
from leancot.llm.pricing import cost_usd
from leancot.prune.heuristic import prune_trace
from leancot.prune.teacher import prompts
from leancot.tokens import count_tokens_batch

MODELS = ("gpt-4o", "gpt-4o-mini")
GRANULARITY = {
    "offline": "the offline pruner's own steps (about one per sentence)",
    "skill-runs": "consecutive steps of one skill merged (a coarser teacher)",
}


def real_traces() -> list[tuple[str, str, str]]:
    """(question, reasoning, answer) of the 20 correct real traces."""
    out = []
    for row in data.load_traces():
        if row.get("is_correct"):
            reasoning, _, _ = grading.split_think(row["completion"])
            out.append((row["problem"], reasoning.strip(), grading.extract_answer(row["completion"])))
    return out


def lab_traces(n: int) -> list[tuple[str, str, str]]:
    out = []
    for p in generate(n, seed=0):
        reasoning, _, _ = grading.split_think(write_trace(p, seed=0))
        out.append((p.question, reasoning.strip(), str(p.answer)))
    return out


def unit_groups(reasoning: str, steps: list, spans: list[tuple[int, int]]) -> list[list[int]]:
    """The offline pruner's steps as unit ids: each unit goes to the step whose text holds its start."""
    bounds, pos = [], 0
    for s in steps:
        start = reasoning.find(s.text[:40], pos)
        start = pos if start < 0 else start
        bounds.append(start)
        pos = start + max(1, len(s.text) // 2)
    groups: list[list[int]] = [[] for _ in steps]
    k = 0
    for i, (a, _) in enumerate(spans, start=1):
        while k + 1 < len(bounds) and a >= bounds[k + 1]:
            k += 1
        groups[k].append(i)
    return [g for g in groups if g]


def skill_runs(reasoning: str, steps: list, groups: list[list[int]], spans: list[tuple[int, int]]) -> tuple[list, list[list[int]]]:
    """Consecutive steps of one skill as one step (DRP: a step uses one skill): what a teacher that
    groups more coarsely than the offline pruner would answer. Actions: a run is kept if any part is."""
    from leancot.schema import Step

    merged, merged_groups = [], []
    for step, group in zip(steps, groups):
        if merged and merged[-1].skill == step.skill:
            merged_groups[-1] = merged_groups[-1] + group
            keep = merged[-1].action != "delete" or step.action != "delete"
            merged[-1] = merged[-1].model_copy(update={"action": "keep" if keep else "delete", "rewritten": None})
        else:
            merged.append(step.model_copy(update={"rewritten": None} if step.action in ("keep", "delete") else {}))
            merged_groups.append(list(group))
    texts = [reasoning[spans[g[0] - 1][0] : spans[g[-1] - 1][1]].strip() for g in merged_groups]
    return [
        Step(index=i, text=t, skill=m.skill, action=m.action, rewritten=m.rewritten) for i, (m, t) in enumerate(zip(merged, texts))
    ], merged_groups


def requests(question: str, reasoning: str, answer: str, granularity: str) -> dict[str, list[str]]:
    """Per mode: the texts of the prompt messages and of the answers of both calls."""
    steps, pruned = prune_trace(reasoning, answer, question)
    spans = prompts.sentence_units(reasoning)
    groups = unit_groups(reasoning, steps, spans)
    steps = steps[: len(groups)]
    if granularity == "skill-runs":
        steps, groups = skill_runs(reasoning, steps, groups, spans)
    comp_msgs = prompts.compress_messages(question, steps, answer)
    names = {"keep": "KEEP", "delete": "DELETE", "compress": "SINGLE-STEP COMPRESS", "merge": "MULTI-STEP COMPRESS"}
    comp_answer = json.dumps(
        {"actions": [{"step": i + 1, "action": names[s.action], "rewritten": s.rewritten} for i, s in enumerate(steps)], "pruned": pruned}
    )
    text_seg = json.dumps({"steps": [{"text": s.text, "skill": s.skill} for s in steps]})
    unit_seg = json.dumps({"steps": [{"start": g[0], "skill": s.skill} for s, g in zip(steps, groups)]})
    return {
        "text": [m["content"] for m in prompts.segment_messages(question, reasoning)],
        "text_seg": [text_seg],
        "units": [m["content"] for m in prompts.segment_units_messages(question, reasoning, spans)],
        "units_seg": [unit_seg],
        "compress": [m["content"] for m in comp_msgs],
        "compress_out": [comp_answer],
    }


def measure(traces: list[tuple[str, str, str]], granularity: str) -> dict[str, dict[str, float]]:
    per_mode: dict[str, list[tuple[int, int, int]]] = {"text": [], "units": []}  # (seg out, prompt total, completion total)
    for q, r, a in traces:
        req = requests(q, r, a, granularity)
        parts = {k: sum(count_tokens_batch(v)) for k, v in req.items()}
        for mode in per_mode:
            seg_out = parts[f"{mode}_seg"]
            per_mode[mode].append((seg_out, parts[mode] + parts["compress"], seg_out + parts["compress_out"]))
    result = {}
    for mode, rows in per_mode.items():
        seg = statistics.mean(r[0] for r in rows)
        prompt = statistics.mean(r[1] for r in rows)
        completion = statistics.mean(r[2] for r in rows)
        costs = {
            f"{m}{' batch' if b else ''}": 1000 * cost_usd(m, round(prompt), round(completion), batch=b)
            for m in MODELS
            for b in (False, True)
        }
        result[mode] = {"seg_out": seg, "prompt": prompt, "completion": completion, **costs}
    return result


def show(name: str, traces: list, res: dict[str, dict[str, float]]) -> None:
    reasoning = statistics.mean(count_tokens_batch([r for _, r, _ in traces]))
    print(f"\n{name}: {len(traces)} traces, reasoning {reasoning:,.0f} tokens on average")
    cols = ["seg_out", "prompt", "completion", *(f"{m}{s}" for m in MODELS for s in ("", " batch"))]
    print(
        "| mode | segmentation output tok/trace | prompt tok/trace (2 calls) | completion tok/trace | "
        + " | ".join(f"$ / 1000 traces, {c}" for c in cols[3:])
        + " |"
    )
    print("|---" * (len(cols) + 1) + "|")
    for mode in ("text", "units"):
        r = res[mode]
        print(
            f"| {mode} | {r['seg_out']:,.0f} | {r['prompt']:,.0f} | {r['completion']:,.0f} | "
            + " | ".join(f"{r[c]:,.2f}" for c in cols[3:])
            + " |"
        )
    t, u = res["text"], res["units"]
    print(
        f"segmentation output: verbatim / units = {t['seg_out'] / u['seg_out']:.1f}x (target >= 5x); "
        f"cost per trace units / verbatim at gpt-4o = {u['gpt-4o'] / t['gpt-4o']:.2f} (target <= 0.5), "
        f"at gpt-4o-mini = {u['gpt-4o-mini'] / t['gpt-4o-mini']:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lab", type=int, default=100, help="GSM8K-style lab traces to measure")
    args = ap.parse_args()
    sets = {
        "real R1-Distill traces (MATH level 5, correct)": real_traces(),
        "lab teacher traces (GSM8K-style word problems)": lab_traces(args.lab),
    }
    for granularity in ("offline", "skill-runs"):
        print(f"\n## steps: {GRANULARITY[granularity]}")
        for name, traces in sets.items():
            show(name, traces, measure(traces, granularity))


if __name__ == "__main__":
    main()
