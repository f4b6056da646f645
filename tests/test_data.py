"""leancot.data: the bundled benchmarks, their gold answers graded against their own
solutions (all of them), user files with field detection, and the usage errors."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from leancot import data, grading
from leancot.errors import UsageError
from leancot.grading import grade, is_equivalent, last_boxed, normalize_answer
from leancot.schema import Problem

SIZES = {"gsm8k": 1319, "math500": 500, "aime24": 30, "aime25": 30, "amc23": 40}


def test_list_benchmarks():
    assert data.list_benchmarks() == sorted(SIZES)


@pytest.mark.parametrize("name, size", SIZES.items())
def test_load_benchmark(name, size):
    problems = data.load(name)
    assert len(problems) == size
    assert all(isinstance(p, Problem) and p.source == name for p in problems)
    assert all(p.question and p.gold_answer for p in problems)
    assert problems[3].id == f"{name}-3"
    assert len({p.id for p in problems}) == size


def test_gsm8k_train_split_and_limit():
    problems = data.load("gsm8k", split="train", limit=5)
    assert [p.id for p in problems] == [f"gsm8k-train-{i}" for i in range(5)]
    assert problems[0].gold_answer == "72"


@pytest.mark.parametrize(
    "alias, name",
    [
        ("MATH-500", "math500"),
        ("aime2024", "aime24"),
        ("AIME-2025", "aime25"),
        ("amc2023", "amc23"),
        ("openai/gsm8k", "gsm8k"),
    ],
)
def test_aliases(alias, name):
    assert data.load(alias, limit=1)[0].source == name


def test_gold_answers_are_normalised():
    assert data.load("gsm8k", limit=1)[0].gold_answer == "18"
    assert data.load("amc23", limit=1)[0].gold_answer == "27"  # 27.0 in the file
    assert data.load("aime25", limit=1)[0].gold_answer == "70"  # int in the file
    aime24 = data.load("aime24")
    assert all(not p.gold_answer.startswith("0") for p in aime24)  # "025" in the file
    assert {"solution", "url"} <= set(aime24[0].meta)
    math500 = data.load("math500", limit=1)[0]
    assert math500.gold_answer == "(3,\\frac{\\pi}{2})"
    assert {"solution", "subject", "level", "unique_id"} <= set(math500.meta)


def test_gsm8k_commas_are_stripped_from_gold():
    golds = [p.gold_answer for p in data.load("gsm8k")]
    assert not [g for g in golds if "," in g]


# --------------------------------------------------------------------------- full sets


def test_every_gsm8k_solution_grades_correct():
    problems = data.load("gsm8k")
    wrong = [p.id for p in problems if not grade(p.meta["solution"], p.gold_answer)]
    assert wrong == []


def test_every_math500_boxed_solution_grades_correct():
    problems = data.load("math500")
    # a reference solution is final even where it explains on after its \boxed{} (74 of the 500 do): must_conclude=False
    wrong = [p.id for p in problems if not grade(p.meta["solution"], p.gold_answer, must_conclude=False)]
    assert wrong == []


def test_every_math500_boxed_solution_passes_math_verify_alone():
    """The same 500 through the Math-Verify path only (no normalised-string shortcut)."""
    wrong = [
        p.id for p in data.load("math500") if not grading._math_verify(normalize_answer(last_boxed(p.meta["solution"])), p.gold_answer)
    ]
    assert wrong == []


@pytest.mark.parametrize("name", ["aime24", "aime25", "amc23"])
def test_competition_answers_in_model_forms_grade_correct(name):
    raw = data.read_records(data.files_dir() / "benchmarks" / name / "test.jsonl")
    for row, problem in zip(raw, data.load(name)):
        value = int(float(row["answer"]))
        for answer in (f"{value:03d}", str(value), f"{value}.0", f"${value}.00", f"\\boxed{{{value}}}"):
            assert is_equivalent(answer, problem.gold_answer), (answer, problem.gold_answer)
        for output in (
            f"<think>...</think>\nSo \\boxed{{{value:03d}}}",
            f"**Answer:** {value}",
            f"The final answer is ${value}$.",
            f"\\boxed{{{row['answer']}}}",
        ):
            assert grade(output, problem.gold_answer), (output, problem.gold_answer)
        assert not grade(f"\\boxed{{{value + 1}}}", problem.gold_answer)


# --------------------------------------------------------------------------- user files


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_user_jsonl_with_detected_fields(tmp_path):
    path = _write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"problem": "1+1?", "solution": "It is \\boxed{2}.", "level": 1},
            {"problem": "2+2?", "solution": "2+2=4\n#### 4", "id": "q7"},
            {"prompt": "No gold here"},
        ],
    )
    first, second, third = data.load(path)
    assert (first.id, first.question, first.gold_answer, first.source) == ("mine-0", "1+1?", "2", "mine")
    assert first.meta == {"level": 1, "solution": "It is \\boxed{2}."}
    assert (second.id, second.gold_answer) == ("q7", "4")
    assert (third.question, third.gold_answer) == ("No gold here", None)


def test_user_json_and_csv(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"data": [{"question": "Q", "gt_answer": "$1,000$"}]}))
    assert data.load(str(tmp_path / "a.json"))[0].gold_answer == "1000"
    with (tmp_path / "b.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["query", "target", "key"])
        writer.writeheader()
        writer.writerow({"query": "Q?", "target": "0.50", "key": "k1"})
    problem = data.load(tmp_path / "b.csv", question_field="query", answer_field="target", id_field="key")[0]
    assert (problem.id, problem.question, problem.gold_answer) == ("k1", "Q?", "0.5")


def test_user_file_limit(tmp_path):
    path = _write_jsonl(tmp_path / "m.jsonl", [{"question": str(i), "answer": i} for i in range(10)])
    assert [p.gold_answer for p in data.load(path, limit=3)] == ["0", "1", "2"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.load("gsm9k"), "unknown benchmark 'gsm9k'"),
        (lambda: data.load("math500", split="train"), "valid: test"),
        (lambda: data.load("gsm8k", split="dev"), "valid: test, train"),
        (lambda: data.load("missing/file.jsonl"), "file not found"),
        (lambda: data.load("nothing.csv"), "file not found"),
    ],
)
def test_usage_errors(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_missing_fields_are_usage_errors(tmp_path):
    path = _write_jsonl(tmp_path / "x.jsonl", [{"text": "no question field"}])
    with pytest.raises(UsageError, match="no question field"):
        data.load(path)
    with pytest.raises(UsageError, match="field 'nope' not found"):
        data.load(path, question_field="nope")


# --------------------------------------------------------------------------- traces, files


def test_traces():
    assert data.traces_path().is_file()
    rows = data.load_traces()
    assert len(rows) == 40
    assert {"id", "prompt", "completion", "gt_answer", "model_answer", "is_correct", "chunks"} <= set(rows[0])


def test_licences_are_shipped_beside_the_data():
    root = data.files_dir()
    assert (root / "traces" / "LICENSE.thought-anchors").is_file()
    for name in ("LICENSE.simpleRL-reason", "LICENSE.grade-school-math", "LICENSE.AReaL"):
        assert (root / "benchmarks" / name).is_file()


def test_grade_gold_solutions_script_passes(capsys):
    script = Path(__file__).parents[1] / "benchmarks" / "grade_gold_solutions.py"
    spec = importlib.util.spec_from_file_location("grade_gold_solutions", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == 0
    out = capsys.readouterr().out
    assert "math500" in out and "500" in out
