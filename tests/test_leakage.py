"""The leakage guard: a plan that trains on what it evaluates is refused before any work."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from leancot import data, leakage, pipeline
from leancot.cli import app
from leancot.errors import UsageError


def write_recipe(tmp_path, stages, **top):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"out": str(tmp_path / "runs"), **top, "stages": stages}))
    return path


GENERATE = {"model": "teacher", "base_url": "http://127.0.0.1:9/v1"}


def test_generating_on_the_evaluated_test_split_is_refused_with_one_line(tmp_path):
    path = write_recipe(tmp_path, {"generate": {"source": "math500", **GENERATE},
                                   "eval": {"model": "smollm2-135m", "benchmarks": ["math500", "gsm8k"]}})  # fmt: skip
    with pytest.raises(UsageError, match="generate: math500 test is the test split that eval evaluates") as e:
        pipeline.plan(path)
    assert "\n" not in str(e.value) and "--allow-overlap" in str(e.value)
    result = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2 and "leaks into the evaluation" in result.output
    assert not (tmp_path / "runs").exists()


def test_another_split_of_the_same_benchmark_passes(tmp_path):
    path = write_recipe(tmp_path, {"generate": {"source": "gsm8k", "split": "train", **GENERATE},
                                   "eval": {"model": "smollm2-135m", "benchmarks": ["gsm8k"]}})  # fmt: skip
    report = pipeline.plan(path).leakage
    assert report.overlap == {"gsm8k": 0} and not report.problems
    assert report.overlap_bundled["math500"] == 0


def _own_traces(tmp_path, n_leaked):
    """A user's trace file: bundled traces plus n MATH-500 test questions, reworded in case and spacing."""
    rows = [json.loads(line) for line in data.traces_path().read_text().splitlines()[:5]]
    for p in data.load("math500", limit=n_leaked):
        rows.append({"problem": "  " + p.question.upper().replace(" ", "   ") + " ", "completion": "<think>x</think> 1"})
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_users_file_overlapping_an_evaluated_benchmark_is_refused_with_the_count(tmp_path):
    traces = _own_traces(tmp_path, 3)
    path = write_recipe(tmp_path, {"prune": {"input": str(traces)},
                                   "eval": {"model": "smollm2-135m", "benchmarks": ["math500"]}})  # fmt: skip
    with pytest.raises(UsageError, match=r"3 training question\(s\) are also math500 questions"):
        pipeline.plan(path)
    # not evaluated: recorded, not refused
    clean = write_recipe(tmp_path, {"prune": {"input": str(traces)}, "eval": {"model": "smollm2-135m", "benchmarks": ["gsm8k"]}})
    report = pipeline.plan(clean).leakage
    assert not report.problems and report.overlap_bundled["math500"] == 3


def test_allow_overlap_lets_it_run_and_is_recorded(tmp_path):
    traces = _own_traces(tmp_path, 2)
    stages = {"prune": {"input": str(traces), "limit": 2}, "eval": {"model": "smollm2-135m", "benchmarks": ["math500"]}}
    report = pipeline.plan(write_recipe(tmp_path, stages), allow_overlap=True).leakage
    assert report.allow_overlap and report.overlap["math500"] == 2
    recipe = write_recipe(tmp_path, {"prune": stages["prune"]}, allow_overlap=True)
    # a recipe key does the same; run() writes the report to pipeline.json
    out = pipeline.run_recipe(recipe, ["allow_overlap=true"])
    record = json.loads((out / "pipeline.json").read_text())["leakage"]
    assert record["allow_overlap"] is True and record["overlap_bundled_test"]["math500"] == 2


def test_normalised_match_ignores_case_spacing_and_punctuation():
    assert leakage.normalise_question("What is  $2+2$?") == leakage.normalise_question("what is 2 + 2")
    assert leakage.normalise_question("a b") != leakage.normalise_question("ab c")


def test_a_declared_input_not_there_yet_passes_the_dry_run_and_stops_the_run(tmp_path):
    missing = tmp_path / "stratos.jsonl"
    path = write_recipe(tmp_path, {"prune": {"input": "{stratos}"}}, inputs={"stratos": str(missing)})
    plan = pipeline.plan(path)
    assert plan.missing_inputs == {"stratos": str(missing)} and plan.leakage.not_checked == [str(missing)]
    with pytest.raises(UsageError, match="inputs.stratos"):
        pipeline.run_recipe(path)
    assert not (tmp_path / "runs").exists()
    given = _own_traces(tmp_path, 0)
    assert str(pipeline.plan(path, [f"inputs.stratos={given}"]).steps[0].config.input) == str(given)


# --------------------------------------------------------------------------- a model's samples as training data


def _eval_samples(path, problems, n=2):
    """An eval's records.jsonl (``leancot eval --split train --n 2``): every sample holds its question."""
    from leancot.schema import EvalRecord

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [EvalRecord(benchmark="gsm8k", problem_id=p.id, sample=k, question=p.question, output=f"<think>\nx\n</think>\n\\boxed{{{p.gold_answer}}}",
                       answer=p.gold_answer, gold=p.gold_answer, correct=True, reasoning_tokens=1, answer_tokens=1, total_tokens=2)
            for p in problems for k in range(n)]  # fmt: skip
    path.write_text("".join(r.model_dump_json() + "\n" for r in rows), encoding="utf-8")
    return path


def test_an_eval_on_the_train_split_pruned_for_training_is_refused_where_the_recipe_evaluates_those_questions(tmp_path):
    train = data.load("gsm8k", split="train", limit=3)
    samples = _eval_samples(tmp_path / "samples" / "records.jsonl", train)
    assert leakage.file_questions(samples) == {leakage.normalise_question(p.question) for p in train}
    prune = {"input": str(samples), "method": "shortest-correct"}
    path = write_recipe(tmp_path, {"prune": prune, "eval": {"model": "smollm2-135m", "benchmarks": ["gsm8k"], "split": "train"}})
    with pytest.raises(UsageError, match=r"3 training question\(s\) are also gsm8k questions"):
        pipeline.plan(path)
    problems = tmp_path / "mine.jsonl"  # a problem file holding one of them
    problems.write_text(json.dumps({"question": train[1].question, "answer": train[1].gold_answer}) + "\n", encoding="utf-8")
    path = write_recipe(tmp_path, {"prune": prune, "eval": {"model": "smollm2-135m", "benchmarks": [str(problems)]}})
    with pytest.raises(UsageError, match=r"1 training question\(s\) are also .*mine.jsonl questions"):
        pipeline.plan(path)
    clean = write_recipe(tmp_path, {"prune": prune, "eval": {"model": "smollm2-135m", "benchmarks": ["gsm8k"]}})
    report = pipeline.plan(clean).leakage
    assert not report.problems and report.overlap == {"gsm8k": 0}
    assert report.sources[0].label == f"prune input {samples}" and len(report.sources[0].questions) == 3


def test_samples_in_the_directory_the_recipe_evaluates_into_are_still_training_data(tmp_path):
    """An earlier ``leancot eval --out runs/eval`` is not the recipe's own eval step, which runs after prune."""
    samples = _eval_samples(tmp_path / "runs" / "eval" / "records.jsonl", data.load("gsm8k", split="train", limit=2))
    path = write_recipe(tmp_path, {"prune": {"input": str(samples), "method": "shortest-correct"},
                                   "eval": {"model": "smollm2-135m", "benchmarks": ["gsm8k"], "split": "train"}})  # fmt: skip
    plan_dirs = [str(step.out) for step in pipeline.plan(path, allow_overlap=True).steps]
    assert str(samples.parent) in plan_dirs
    with pytest.raises(UsageError, match=r"2 training question\(s\) are also gsm8k questions"):
        pipeline.plan(path)
