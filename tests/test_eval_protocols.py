"""Evaluation protocols by name: presets that explicit settings override, recorded in summary.json."""

import json

import pytest
from test_eval_run import ScriptedBackend, scripted  # noqa: F401 - the fixture

from leancot.errors import UsageError
from leancot.evaluate import metrics, protocols
from leancot.evaluate.config import EvalConfig
from leancot.evaluate.stage import run


def test_every_protocol_file_sets_every_field_and_builds_a_config(tmp_path):
    assert set(protocols.list_protocols()) >= {"leancot", "drp-lm-eval", "essence-lighteval", "deepseek-r1"}
    for name in protocols.list_protocols():
        EvalConfig(model="m", out=tmp_path, protocol=name)


def test_a_protocol_sets_defaults_and_explicit_settings_win(tmp_path):
    drp = EvalConfig(model="m", out=tmp_path, protocol="drp-lm-eval")
    assert (drp.chat_template, drp.temperature, drp.max_new_tokens, drp.answer_format) == (False, 0.0, 40000, "the-answer-is")
    assert drp.stop[0] == "Q:" and drp.max_new_tokens_by_benchmark["aime24"] == 130000
    mine = EvalConfig(model="m", out=tmp_path, protocol="drp-lm-eval", max_new_tokens=512)
    assert mine.max_new_tokens == 512 and mine.max_new_tokens_by_benchmark == {}  # an explicit budget is the budget
    r1 = EvalConfig(model="m", out=tmp_path, protocol="deepseek-r1", n=8)
    assert (r1.temperature, r1.top_p, r1.n) == (0.6, 0.95, 8)
    lighteval = EvalConfig(model="m", out=tmp_path, protocol="essence-lighteval")
    assert (lighteval.chat_template, lighteval.max_new_tokens, lighteval.dtype) == (True, 32768, "bfloat16")
    assert EvalConfig(model="m", out=tmp_path).max_new_tokens == 2048  # today's default
    # a resolved config validates to itself (the pipeline re-validates configs)
    assert EvalConfig.model_validate(drp.model_dump()) == drp
    with pytest.raises(UsageError, match="unknown protocol 'nope'"):
        EvalConfig(model="m", out=tmp_path, protocol="nope")


@pytest.mark.parametrize("text, expected", [
    ("<think>Q: is it 3?</think> The answer is 4.\n\nQ: next", ("<think>Q: is it 3?</think> The answer is 4.\n\n", True)),
    ("<think>Q: still thinking", ("<think>Q: still thinking", False)),
    ("No tags. The answer is 4.\nQ: more", ("No tags. The answer is 4.\n", True)),
    ("<think>a</think> The answer is 4.", ("<think>a</think> The answer is 4.", False)),
])  # fmt: skip
def test_stop_strings_apply_only_outside_the_reasoning(text, expected):
    assert protocols.cut_at_stop(text, ["Q:"]) == expected


@pytest.mark.parametrize("text, answer", [
    ("Step. The answer is 1,234.", "1234"),
    ("<think>The answer is 5. no</think> The answer is 6. The answer is 7.", "6"),
    ("so the answer is 6.", None),  # case-sensitive, as the regex
    ("<think>The answer is 5.", None),
    ("The answer is \\boxed{6}.", None),  # strict: a number right after "The answer is"
    ("The answer is -3.5 dollars", "-3.5"),
])  # fmt: skip
def test_strict_answer_is_lm_evals_strict_match(text, answer):
    assert protocols.strict_answer(text) == answer


def test_over_samples_mean_std_and_interval():
    records = [{"problem_id": str(p), "sample": s, "correct": (p + s) % 2 == 0} for p in range(4) for s in range(3)]
    out = metrics.over_samples(records, 3)
    assert out["per_sample_accuracy"] == [0.5, 0.5, 0.5] and out["std"] == 0.0 and out["ci95"] == [0.5, 0.5]
    records[0]["correct"] = False  # sample 0: 0.25
    out = metrics.over_samples(records, 3)
    assert out["mean"] == pytest.approx(1.25 / 3) and out["std"] == pytest.approx(0.1443375, rel=1e-6)
    assert out["ci95"][0] < out["mean"] < out["ci95"][1]
    assert out["ci95"][1] - out["mean"] == pytest.approx(4.303 * out["std"] / 3**0.5)


def test_summary_records_the_protocol_and_the_setup(scripted, tiny_model_dir, tmp_path):  # noqa: F811
    out = run(EvalConfig(model=str(tiny_model_dir), benchmarks=["gsm8k"], out=tmp_path / "ev", backend="scripted",
                         batch_size=2, limit=3, protocol="deepseek-r1", n=2, max_new_tokens=16))  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == "deepseek-r1" and summary["decoding"]["temperature"] == 0.6
    setup = summary["setup"]
    assert {"seed", "dtype", "batch_size", "tensor_parallel_size", "versions", "hardware"} <= set(setup)
    assert setup["versions"]["python"] and setup["hardware"]["cpus"]
    bench = summary["benchmarks"]["gsm8k"]
    assert bench["over_samples"]["samples"] == 2 and bench["over_samples"]["mean"] == pytest.approx(bench["accuracy"])
