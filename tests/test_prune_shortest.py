"""--method shortest-correct: of each problem's samples the shortest correct one, every other sample a reject with its reason."""

import json
from collections import Counter

import pytest

from leancot import data
from leancot.errors import UsageError
from leancot.io import read_jsonl
from leancot.prune.base import StopRun
from leancot.prune.config import PruneConfig
from leancot.prune.shortest import ShortestCorrectPruner
from leancot.prune.stage import run
from leancot.schema import EvalRecord
from leancot.tokens import count_tokens

APPLES = "Tom has 3 apples and buys 4 more. How many apples does he have?"
LOT = "A square lot is 120 feet on each side and costs 1 dollar per square foot. What does it cost?"
PENS = "Ann buys 2 pens at 5 dollars each. How much does she pay?"
EGGS = "A hen lays 6 eggs a day. How many eggs does it lay in 2 days?"

LONG = "Tom has 3 apples. Hmm, let me think carefully about this. He buys 4 more, so 3 + 4 = 7. Wait, let me double-check: 3 + 4 = 7. Yes."
SHORT = "He buys 4 more, so 3 + 4 = 7. Let me double-check: 3 + 4 = 7."


def sample(id, question, reasoning, answer, sample=None, gold=None, **extra):
    row = {"id": id, "question": question, "completion": f"<think>\n{reasoning}\n</think>\nThe answer is \\boxed{{{answer}}}."}
    if gold is not None:
        row["gold_answer"] = gold
    if sample is not None:
        row["sample"] = sample
    return {**row, **extra}


#: Four problems, their samples interleaved. Apples: a long and a wrong sample, then three of the same
#: shortest length (sample 3, sample 2, sample 2 again): the lowest sample index wins, then the first in
#: the input. Lot: gold "$14,400", answers 14400 and 14,400 graded against it. Pens: no sample correct.
#: Eggs: graded by the rows' own ``correct`` (a right number, cut off: not correct).
SAMPLES = [
    sample("apples-long", APPLES, LONG, 7, sample=0, gold="7"),
    sample(
        "lot-long",
        LOT,
        "The area is 120 * 120 = 14400 square feet. Let me check: 120 * 120 = 14400. So it costs 14400 dollars.",
        "14400",
        gold="$14,400",
    ),  # fmt: skip
    sample("pens-a", PENS, "2 * 5 = 12.", 12, gold="10"),
    sample("apples-wrong", APPLES, "3 + 4 = 8.", 8, sample=1, gold="7"),
    sample("eggs-cut", EGGS, "6 * 2 = 12.", 12, sample=0, gold="12", correct=False),
    sample("apples-tie-3", APPLES, SHORT, 7, sample=3, gold="7"),
    sample("lot-short", LOT, "The area is 120 * 120 = 14400 square feet, so it costs 14,400 dollars.", "14,400", gold="$14,400"),
    sample("pens-b", PENS, "2 * 5 = 11.", 11, gold="10"),
    sample("apples-tie-2", APPLES, SHORT, 7, sample=2, gold="7"),
    sample("eggs-ok", EGGS, "It lays 6 eggs a day, so in 2 days 6 * 2 = 12 eggs.", 12, sample=1, gold="12", correct=True),
    sample("apples-tie-2-later", APPLES, SHORT, 7, sample=2, gold="7"),
]

REASONS = {
    "apples-long": "not_shortest",
    "apples-wrong": "incorrect",
    "apples-tie-3": "not_shortest",  # as short, but a higher sample index
    "apples-tie-2-later": "not_shortest",  # as short, the same index, later in the input
    "lot-long": "not_shortest",
    "pens-a": "no_correct_sample",
    "pens-b": "no_correct_sample",
    "eggs-cut": "incorrect",  # its own correct: false wins over the grade
}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def samples_file(tmp_path):
    return write_jsonl(tmp_path / "samples.jsonl", SAMPLES)


def prune(path, out, **options):
    return run(PruneConfig(input=path, out=out, method="shortest-correct", shortest_correct=options))


def reasons(out):
    return {r["id"]: r["reason"] for r in read_jsonl(out / "rejects.jsonl")}


def test_each_problem_keeps_its_shortest_correct_sample_and_every_other_is_a_reject(samples_file, tmp_path):
    out = prune(samples_file, tmp_path / "out")
    records = {r["id"]: r for r in read_jsonl(out / "records.jsonl")}
    assert sorted(records) == ["apples-tie-2", "eggs-ok", "lot-short"]
    assert reasons(out) == REASONS
    assert len(records) + len(REASONS) == len(SAMPLES)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["input"] == len(SAMPLES) and manifest["counts"]["verified"] == 3
    apples = records["apples-tie-2"]
    assert apples["method"] == "shortest-correct" and apples["verified"]
    assert apples["pruned"] == SHORT + "\n\nThe answer is \\boxed{7}"  # kept whole, closed by the answer line
    assert (apples["sample"], apples["samples"], apples["correct_samples"]) == (2, 5, 4)
    assert records["lot-short"]["gold_answer"] == "14400"


def test_then_first_answer_cuts_the_chosen_sample_at_its_first_answer(samples_file, tmp_path):
    out = prune(samples_file, tmp_path / "out", then="first-answer")
    apples = next(r for r in read_jsonl(out / "records.jsonl") if r["id"] == "apples-tie-2")
    assert apples["method"] == "shortest-correct+first-answer" and apples["verified"]
    assert "3 + 4 = 7" in apples["pruned"] and "double-check" not in apples["pruned"]
    assert apples["tokens_after"] < apples["tokens_before"]
    assert reasons(out) == REASONS


def test_a_group_field_groups_by_its_value(tmp_path):
    rows = [dict(s, meta={"topic": s["question"][:2]}) for s in SAMPLES]  # "To", "A ", "An", "A ": lot and eggs are one problem now
    out = prune(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out", group_field="meta.topic")
    kept = [r["id"] for r in read_jsonl(out / "records.jsonl")]
    assert kept == ["apples-tie-2", "eggs-ok"]  # eggs-ok has fewer reasoning tokens than lot-short
    assert reasons(out)["lot-short"] == "not_shortest"
    with pytest.raises(UsageError, match="--group-field 'nope'"):
        prune(tmp_path / "in.jsonl", tmp_path / "bad", group_field="nope")


def test_eval_records_without_their_question_say_to_run_the_eval_again(tmp_path):
    row = EvalRecord(benchmark="gsm8k", problem_id="gsm8k-0", output="<think>\n1 + 1 = 2.\n</think>\n\\boxed{2}", answer="2",
                     gold="2", correct=True, reasoning_tokens=5, answer_tokens=3, total_tokens=8).model_dump(exclude={"question"})  # fmt: skip
    with pytest.raises(UsageError, match="hold no question"):
        prune(write_jsonl(tmp_path / "old.jsonl", [row]), tmp_path / "out")


def test_then_takes_only_a_pruner_without_options_of_its_own(samples_file, tmp_path):
    with pytest.raises(ValueError, match="heuristic, first-answer"):
        prune(samples_file, tmp_path / "out", then="llm")


def test_an_interrupted_run_resumes_without_duplicates(samples_file, tmp_path, monkeypatch):
    whole = prune(samples_file, tmp_path / "whole")
    original = ShortestCorrectPruner.prune

    async def stop_at_the_second_winner(self, trace):
        if trace.id == "lot-short":
            raise StopRun("interrupted")
        return await original(self, trace)

    monkeypatch.setattr(ShortestCorrectPruner, "prune", stop_at_the_second_winner)
    prune(samples_file, tmp_path / "cut")
    done = len(read_jsonl(tmp_path / "cut" / "records.jsonl")) + len(read_jsonl(tmp_path / "cut" / "rejects.jsonl"))
    assert 0 < done < len(SAMPLES)
    assert json.loads((tmp_path / "cut" / "manifest.json").read_text())["status"] == "incomplete"
    monkeypatch.setattr(ShortestCorrectPruner, "prune", original)
    resumed = prune(samples_file, tmp_path / "cut")
    for name in ("records.jsonl", "rejects.jsonl"):
        got, want = read_jsonl(resumed / name), read_jsonl(whole / name)
        assert len({r["id"] for r in got}) == len(got)  # nothing written twice
        assert sorted(r["id"] for r in got) == sorted(r["id"] for r in want)


# --------------------------------------------------------------------------- real traces as an eval's samples


def real_samples(path, problems: int = 3):
    """Eval records made of the bundled R1-distill traces: the four traces of a problem (two models, a
    correct and an incorrect one each) are its samples 0-3, the problems interleaved."""
    by_problem: dict[str, list[dict]] = {}
    for row in data.load_traces():
        by_problem.setdefault(row["source_problem"], []).append(row)
    chosen = list(by_problem.values())[:problems]
    rows = [
        EvalRecord(benchmark="math", problem_id=rows[k]["source_problem"], sample=k, question=rows[k]["problem"],
                   output=rows[k]["completion"], answer=rows[k]["model_answer"], gold=rows[k]["gt_answer"],
                   correct=rows[k]["is_correct"], reasoning_tokens=0, answer_tokens=0, total_tokens=0).model_dump(mode="json")
        for k in range(4) for rows in chosen
    ]  # fmt: skip
    return write_jsonl(path, rows), chosen


def test_real_samples_keep_the_shorter_correct_trace_of_each_problem(tmp_path):
    path, problems = real_samples(tmp_path / "records.jsonl")
    out = prune(path, tmp_path / "out", then="first-answer")
    records = read_jsonl(out / "records.jsonl")
    assert Counter(reasons(out).values()) == {"incorrect": 6, "not_shortest": 3}
    assert len(records) == 3 and all(r["verified"] and r["method"] == "shortest-correct+first-answer" for r in records)
    expected = set()
    for rows in problems:
        tokens = {k: count_tokens(data.bundled_trace(row).reasoning) for k, row in enumerate(rows) if row["is_correct"]}
        expected.add(f"math/{rows[0]['source_problem']}/{min(tokens, key=tokens.get)}")
    assert {r["id"] for r in records} == expected
    assert all(r["tokens_after"] < r["tokens_before"] for r in records)
    assert {r["question"] for r in records} == {rows[0]["problem"] for rows in problems}
