"""End-to-end training runs on a tiny random student: loss, parameters, resume, merged save, bad input."""

import json
import shutil

import pytest
import typer
from typer.testing import CliRunner

from leancot.errors import UsageError
from leancot.train.command import register
from leancot.train.config import TrainConfig
from leancot.train.stage import run


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _records(n=4):
    return [
        {
            "id": f"p{i}",
            "question": f"What is {i} + {i}?",
            "pruned": f"{i} + {i} = {2 * i}.",
            "original": "long " * 30,
            "answer": str(2 * i),
        }
        for i in range(n)
    ]


def _config(tmp, data, **kw):
    base = {
        "input": data,
        "out": tmp / "run",
        "student": "tiny:2x32",
        "max_steps": 4,
        "batch_size": 4,
        "lr": 1e-2,
        "warmup": 0,
        "save_steps": 2,
    }
    return TrainConfig(**(base | kw))


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    data = _write(tmp / "data.jsonl", _records() + [{"id": "bad", "question": "q", "pruned": "", "answer": "1"}])
    out = run(_config(tmp, data, lora=True, lora_r=8))
    return tmp, data, out


def test_loss_falls_and_the_account_adds_up(lora_run):
    _, _, out = lora_run
    m = json.loads((out / "metrics.json").read_text())
    assert m["optimizer_steps"] == 4 and len(m["loss_curve"]) == 4
    assert m["loss_last"] < m["loss_first"]
    assert m["sequences"] == 16  # 4 steps x 4 sequences
    assert 0 < m["loss_tokens"] < m["trained_tokens"]
    assert m["flops"] == 6 * m["student_params"] * m["trained_tokens"]
    assert m["peak_memory_bytes"] > 0 and m["tokens_per_second"] > 0
    assert (out / "loss.png").stat().st_size > 1000
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert rejects == [{"id": "bad", "reason": "no_reasoning", "detail": "empty pruned/reasoning/original"}]
    assert json.loads((out / "manifest.json").read_text())["counts"] == {"input": 5, "sequences": 4, "records": 4, "rejects": 1}


def test_merged_lora_model_loads_with_plain_transformers_and_differs_from_the_base(lora_run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, out = lora_run
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    base = AutoModelForCausalLM.from_pretrained(out / "tiny-2x32-seed0")
    assert not any("lora" in name for name, _ in model.named_parameters())
    changed = [n for (n, p), (_, q) in zip(model.named_parameters(), base.named_parameters()) if not torch.equal(p, q)]
    assert any("q_proj" in n for n in changed)
    tok = AutoTokenizer.from_pretrained(out / "model")
    ids = tok("What is 1 + 1?", return_tensors="pt").input_ids
    assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3


def test_a_finished_run_is_skipped_and_an_interrupted_one_resumes_from_its_last_checkpoint(lora_run, tmp_path):
    tmp, data, out = lora_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    assert run(_config(tmp, data, lora=True, lora_r=8, out=copy)) == copy  # complete: skipped
    # Simulate a run killed after its step-2 checkpoint.
    shutil.rmtree(copy / "model")
    shutil.rmtree(copy / "checkpoints" / "checkpoint-4")
    man = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(man | {"status": "running"}))
    run(_config(tmp, data, lora=True, lora_r=8, out=copy))
    m = json.loads((copy / "metrics.json").read_text())
    assert m["extra"]["resumed_from"].endswith("checkpoint-2")
    assert [c["step"] for c in m["loss_curve"]] == [1, 2, 3, 4]  # no step trained twice
    assert m["sequences"] == 16
    assert (copy / "model" / "config.json").exists()


def test_other_config_over_an_existing_run_is_refused(lora_run):
    tmp, data, out = lora_run
    with pytest.raises(UsageError, match="another config"):
        run(_config(tmp, data, lora=True, lora_r=4))


def test_full_finetune_with_a_kd_teacher(tmp_path):
    data = _write(tmp_path / "d.jsonl", _records(2))
    out = run(_config(tmp_path, data, lora=False, teacher="tiny:1x32", kd="jsd", kd_ratio=0.5, max_steps=2, temperature=2.0))
    m = json.loads((out / "metrics.json").read_text())
    assert m["teacher_params"] > 0 and m["flops_teacher"] == 2 * m["teacher_params"] * m["trained_tokens"]
    assert m["trainable_params"] == m["student_params"]


def test_teacher_with_another_tokenizer_is_refused(tmp_path):
    from leancot.tiny import make_tiny_model

    other = make_tiny_model(tmp_path / "bytes", vocab_from=None, n_layer=1, hidden=32)
    data = _write(tmp_path / "d.jsonl", _records(2))
    with pytest.raises(UsageError, match="does not share the student's tokenizer"):
        run(_config(tmp_path, data, teacher=str(other)))


def test_empty_dataset_is_a_one_line_error(tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    with pytest.raises(UsageError, match="no trainable sequences"):
        run(_config(tmp_path, data))


def test_max_length_shorter_than_every_prompt_is_an_error_not_an_empty_batch(tmp_path):
    data = _write(tmp_path / "d.jsonl", _records(2))
    with pytest.raises(UsageError, match="prompt_longer_than_max_length"):
        run(_config(tmp_path, data, policy="cut", max_length=8))


def test_cli_bad_usage_exits_2_with_one_line(tmp_path):
    app = typer.Typer()
    register(app)
    data = _write(tmp_path / "d.jsonl", _records(1))
    runner = CliRunner()
    for args in (
        [str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")],
        [str(data), "--out", str(tmp_path / "o"), "--policy", "drop"],
        [str(data), "--out", str(tmp_path / "o"), "--kd", "wasserstein"],
        [str(data), "--out", str(tmp_path / "o"), "--lsp", "0.5", "--policy", "cut", "--max-length", "64"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "error" in result.output.lower() or "Invalid" in result.output
