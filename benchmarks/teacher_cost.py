"""What DRP's two teacher calls cost per trace: the verbatim design vs the teacher that names steps.

    python benchmarks/teacher_cost.py [--lab 100]

For each trace the script builds the requests of two designs and the answers an ideal teacher
gives in each -- the offline pruner's own steps and actions (``leancot.prune.heuristic``) -- and
prices them:

- verbatim (leancot before #19 item 5, its prompts and schemas kept in ``benchmarks/verbatim_design/``):
  the segmentation copies every step verbatim (``{"text": ..., "skill": ...}``), the compression
  answer gives every step's action with a ``rewritten`` field and then re-emits the whole path
  (``"pruned"``); the two calls have different system prompts and schemas, so they share no prefix;
- names steps (leancot now, ``leancot.prune.teacher.prompts``): the segmentation gives each step's
  first sentence unit and skill in one string (``"1 problem_setup; 4 hesitation"``), the compression
  names every step by its first unit with an action letter (``"1K 4D 5C"``) and writes text only for
  a rewrite, and leancot assembles the path; both calls begin with the same schema and system
  message (instructions, then the trace), so the second call's copy of that prefix is billed at the
  cached-input rate -- by OpenAI's rule, when it is at least 1,024 tokens, in whole blocks of 128
  tokens.

It does so twice: with the offline pruner's fine steps (about one per sentence) and with consecutive
steps of one skill merged, as a teacher that groups more coarsely would. It counts the tokens of
every message, of the ``response_format`` schema sent with it, and of every answer, and prices them
at GPT-4o and GPT-4o-mini list prices (``leancot.llm.pricing``: cached input at half the input
price), live and through the Batch API (half price; no cached tokens counted there, since a phase's
compression calls go out after the whole segmentation batch is back, later than a prompt cache
keeps a prefix). Two trace sets: the 20 correct real R1-Distill traces (MATH level 5) and the lab
teacher's GSM8K-style word-problem traces.

Tokens are counted with the SmolLM2 tokenizer (GPT-4o's o200k encoding cannot be fetched
here), without the few tokens of chat formatting per message and without prefix sharing across
traces; the ratios between the designs do not depend much on the tokenizer, the dollar figures
somewhat do.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from leancot import data, grading
from leancot.lab.problems import generate
from leancot.lab.teacher import write_trace
from leancot.llm.pricing import cost_usd
from leancot.prune.heuristic import prune_trace
from leancot.prune.skills import SKILLS
from leancot.prune.teacher import parse, prompts
from leancot.schema import Step
from leancot.templates import render
from leancot.tokens import count_tokens_batch

MODELS = ("gpt-4o", "gpt-4o-mini")
GRANULARITY = {
    "offline": "the offline pruner's own steps (about one per sentence)",
    "skill-runs": "consecutive steps of one skill merged (a coarser teacher)",
}
DESIGNS = {"verbatim": "verbatim", "names": "names steps"}
VERBATIM = Path(__file__).parent / "verbatim_design"
NAMES = {"keep": "KEEP", "delete": "DELETE", "compress": "SINGLE-STEP COMPRESS", "merge": "MULTI-STEP COMPRESS"}
CACHE_MIN, CACHE_BLOCK = 1024, 128  # OpenAI's automatic prompt caching: prefixes from 1,024 tokens, in 128-token steps


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


def load(name: str) -> str:
    """A file of the verbatim design (its prompts, ``<call>_schema.json``)."""
    return (VERBATIM / name).read_text(encoding="utf-8")


def schema(name: str) -> str:
    """The verbatim design's ``response_format`` for one call, as sent."""
    return json.dumps(prompts.response_format(json.loads(load(f"{name}_schema.json"))))


def verbatim_calls(question: str, reasoning: str, answer: str, steps: list[Step], pruned: str) -> list[dict[str, list[str]]]:
    """The verbatim design's two calls: ``prompt`` (schema and messages), ``answer``; no shared prefix."""
    skills = "\n".join(f"- {name}: {desc}" for name, desc in SKILLS.items())
    segment = [render(load("segment_system.txt"), skills=skills), render(load("segment_user.txt"), question=question, reasoning=reasoning)]
    listing = "\n\n".join(f"Step {i + 1} [{s.skill}]:\n{s.text}" for i, s in enumerate(steps))
    user = render(load("compress_user.txt"), question=question, answer=answer, n_steps=len(steps), steps=listing)
    compress = [load("compress_system.txt"), user]
    segmented = json.dumps({"steps": [{"text": s.text, "skill": s.skill} for s in steps]})
    actions = [{"step": i + 1, "action": NAMES[s.action], "rewritten": s.rewritten} for i, s in enumerate(steps)]
    return [
        {"prompt": [schema("segment"), *segment], "answer": [segmented], "shared": []},
        {"prompt": [schema("compress"), *compress], "answer": [json.dumps({"actions": actions, "pruned": pruned})], "shared": [],
         "rewrites": [pruned]},
    ]  # fmt: skip


def names_calls(question: str, reasoning: str, answer: str, steps: list[Step], groups: list[list[int]]) -> list[dict[str, list[str]]]:
    """The design that names steps: both calls begin with ``shared`` (the schema and the system message);
    ``task`` is each call's own user turn. The answers are the parsers' inverses (``parse.*_answer``)."""
    spans = prompts.sentence_units(reasoning)
    system = prompts.teacher_system(question, reasoning, answer, spans)
    shared = [json.dumps(prompts.response_format(prompts.teacher_schema("units"))), system["content"]]
    ranges = [(g[0], g[-1]) for g in groups]
    segment = prompts.segment_messages(system, units=True)[1:]
    compress = prompts.compress_messages(system, steps, ranges)[1:]
    segmented = parse.unit_segmentation_answer([a for a, _ in ranges], [s.skill for s in steps])
    compressed = parse.compression_answer(steps, prompts.step_names(ranges, len(steps)))  # text only for rewrites
    return [
        {"prompt": [*shared, *(m["content"] for m in segment)], "answer": [json.dumps(segmented)], "shared": [],
         "task": [m["content"] for m in segment]},
        {"prompt": [*shared, *(m["content"] for m in compress)], "answer": [json.dumps(compressed)], "shared": shared,
         "rewrites": [r["text"] for r in compressed["rewritten"]], "task": [m["content"] for m in compress]},
    ]  # fmt: skip


def cached(prefix_tokens: int) -> int:
    """Tokens of a shared prefix that OpenAI's prompt caching serves from cache."""
    return prefix_tokens // CACHE_BLOCK * CACHE_BLOCK if prefix_tokens >= CACHE_MIN else 0


def requests(question: str, reasoning: str, answer: str, granularity: str) -> tuple[int, dict[str, list[dict[str, list[str]]]]]:
    """The number of steps, and per design its two calls."""
    steps, pruned = prune_trace(reasoning, answer, question)
    spans = prompts.sentence_units(reasoning)
    groups = unit_groups(reasoning, steps, spans)
    steps = steps[: len(groups)]
    if granularity == "skill-runs":
        steps, groups = skill_runs(reasoning, steps, groups, spans)
    return len(steps), {
        "verbatim": verbatim_calls(question, reasoning, answer, steps, pruned),
        "names": names_calls(question, reasoning, answer, steps, groups),
    }


def tokens(calls: list[dict[str, list[str]]], n_steps: int) -> dict[str, int]:
    """Prompt, cached prompt and completion tokens of a trace's calls; each answer's apart, and the text
    the compression answer writes out (the path, or the rewrites)."""
    counts = [{k: sum(count_tokens_batch(v)) if v else 0 for k, v in call.items()} for call in calls]
    return {
        "steps": n_steps,
        "seg_out": counts[0]["answer"],
        "comp_out": counts[1]["answer"],
        "comp_text": counts[1]["rewrites"],
        "prefix": counts[1]["shared"],
        "task1": counts[0].get("task", 0),
        "task2": counts[1].get("task", 0),
        "prompt": sum(c["prompt"] for c in counts),
        "cached": sum(cached(c["shared"]) for c in counts),
        "cache_hit": float(any(cached(c["shared"]) for c in counts)),  # its mean: the share of traces with a cached prefix
        "completion": sum(c["answer"] for c in counts),
    }


def measure(traces: list[tuple[str, str, str]], granularity: str) -> dict[str, dict[str, float]]:
    rows: dict[str, list[dict[str, int]]] = {d: [] for d in DESIGNS}
    for q, r, a in traces:
        n_steps, designs = requests(q, r, a, granularity)
        for design, calls in designs.items():
            rows[design].append(tokens(calls, n_steps))
    result = {}
    for design, per_trace in rows.items():
        mean = {k: statistics.mean(t[k] for t in per_trace) for k in per_trace[0]}
        for m in MODELS:
            mean[m] = 1000 * cost_usd(m, round(mean["prompt"]), round(mean["completion"]), cached_prompt_tokens=round(mean["cached"]))
            mean[f"{m} batch"] = 1000 * cost_usd(m, round(mean["prompt"]), round(mean["completion"]), batch=True)
        result[design] = mean
    return result


def show(name: str, traces: list, res: dict[str, dict[str, float]]) -> None:
    reasoning = statistics.mean(count_tokens_batch([r for _, r, _ in traces]))
    print(f"\n{name}: {len(traces)} traces, reasoning {reasoning:,.0f} tokens on average")
    prices = [f"{m}{s}" for m in MODELS for s in ("", " batch")]
    print(
        "| design | segmentation output tok/trace | compression output tok/trace | prompt tok/trace (2 calls) | of which cached | "
        + " | ".join(f"$ / 1000 traces, {c}" for c in prices)
        + " |"
    )
    print("|---" * (len(prices) + 5) + "|")
    for design, label in DESIGNS.items():
        r = res[design]
        print(
            f"| {label} | {r['seg_out']:,.0f} | {r['comp_out']:,.0f} | {r['prompt']:,.0f} | {r['cached']:,.0f} | "
            + " | ".join(f"{r[c]:,.2f}" for c in prices)
            + " |"
        )
    v, n = res["verbatim"], res["names"]
    print(
        f"compression answer, {n['steps']:,.0f} steps/trace: verbatim {v['comp_out']:,.0f} tokens ({v['comp_text']:,.0f} of them the "
        f"re-emitted path), names steps {n['comp_out']:,.0f} ({n['comp_text']:,.0f} of them rewritten text, "
        f"{(n['comp_out'] - n['comp_text']) / n['steps']:.1f} per step for the rest)"
    )
    print(
        f"names steps, per step: segmentation answer {n['seg_out'] / n['steps']:.1f} tokens; prompt per call: shared prefix "
        f"(schema and system message) {n['prefix']:,.0f} tokens, {n['cached']:,.0f} of them cached in the second call "
        f"(a cached prefix in {n['cache_hit']:.0%} of the traces); "
        f"task 1 turn {n['task1']:,.0f}, task 2 turn {n['task2']:,.0f}"
    )
    print(
        f"total cost per trace, names steps / verbatim: gpt-4o {n['gpt-4o'] / v['gpt-4o']:.2f}, "
        f"gpt-4o-mini {n['gpt-4o-mini'] / v['gpt-4o-mini']:.2f} (target <= 0.5); "
        f"batch (no cached tokens) gpt-4o {n['gpt-4o batch'] / v['gpt-4o batch']:.2f}"
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
