"""Sampling a model for training data: ``leancot eval --n 2`` on a problem file, its records pruned by ``--method shortest-correct``."""

import json

import pytest
from typer.testing import CliRunner

from leancot.cli import app
from leancot.io import read_jsonl

PROBLEMS = [
    {"question": "What is 2 + 3?", "answer": "5"},
    {"question": "What is 4 + 4?", "answer": "8"},
    {"question": "A square lot is 120 feet on each side and costs 1 dollar per square foot. What does it cost?", "answer": "$14,400"},
]


def leancot(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def samples(tiny_model_dir, tmp_path_factory):
    """Two samples of each problem from a tiny random model (hf backend, temperature 0.7)."""
    tmp = tmp_path_factory.mktemp("samples")
    problems = tmp / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS), encoding="utf-8")
    res = leancot("eval", "--model", tiny_model_dir, "--benchmarks", problems, "--backend", "hf", "--n", 2, "--temperature", 0.7,
                  "--max-new-tokens", 8, "--threads", 1, "--out", tmp / "samples")  # fmt: skip
    assert res.exit_code == 0, res.output
    return tmp / "samples" / "records.jsonl"


def test_every_sample_is_a_record_with_its_question_and_its_own_id(samples):
    records = read_jsonl(samples)
    assert sorted((r["question"], r["sample"]) for r in records) == sorted((p["question"], k) for p in PROBLEMS for k in range(2))
    assert sorted(r["id"] for r in records) == sorted(f"problems/{r['problem_id']}/{r['sample']}" for r in records)
    assert {r["gold"] for r in records} == {"5", "8", "14400"}


def test_prune_reads_the_samples_and_accounts_for_each_as_eval_graded_it(samples, tmp_path):
    res = leancot("prune", samples, "--method", "shortest-correct", "--out", tmp_path / "out")
    records, rejects = read_jsonl(tmp_path / "out" / "records.jsonl"), read_jsonl(tmp_path / "out" / "rejects.jsonl")
    assert len(records) + len(rejects) == 2 * len(PROBLEMS)
    solved = {r["question"] for r in read_jsonl(samples) if r["correct"]}  # a tiny random model: most likely none
    assert res.exit_code == (0 if solved else 1), res.output  # 1: every row was rejected
    by_question = {r["id"]: r["question"] for r in read_jsonl(samples)}
    assert {by_question[r["id"]] for r in rejects if r["reason"] == "no_correct_sample"} == {p["question"] for p in PROBLEMS} - solved


def test_the_samples_own_correct_decides_which_is_kept(samples, tmp_path):
    """The tiny model's samples, two of them replaced by hand: a right answer graded correct, and a right
    answer the eval graded wrong (cut off): only the first may be kept."""
    rows = read_jsonl(samples)
    assert not any(r["correct"] for r in rows)  # 8 tokens of a random model: cut off, graded wrong
    good, cut = rows[0], next(r for r in rows if r["problem_id"] != rows[0]["problem_id"])
    good.update(output=f"<think>\nSo it is {good['gold']}.\n</think>\nThe answer is \\boxed{{{good['gold']}}}.", correct=True)
    cut.update(output=f"<think>\nSo it is {cut['gold']}.\n</think>\nThe answer is \\boxed{{{cut['gold']}}}.", correct=False)
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = leancot("prune", path, "--method", "shortest-correct", "--then", "first-answer", "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert [r["id"] for r in records] == [good["id"]] and records[0]["verified"]
    assert records[0]["method"] == "shortest-correct+first-answer" and records[0]["question"] == good["question"]
    assert records[0]["gold_answer"] == good["gold"] != good["answer"]  # the gold is eval's gold, not the model's own answer
    reasons = {r["id"]: r["reason"] for r in read_jsonl(tmp_path / "out" / "rejects.jsonl")}
    assert reasons == {
        r["id"]: "incorrect" if r["problem_id"] == good["problem_id"] else "no_correct_sample" for r in rows if r is not good
    }
