"""Validation split, evaluation loss during training and the kept (best or last) model, on a tiny student."""

import json
import shutil

import pytest
import torch

from leancot.train.config import TrainConfig
from leancot.train.stage import prepare, run, split_validation


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _records(n=12):
    return [{"id": f"p{i}", "question": f"What is {i} + {i}?", "pruned": f"{i} + {i} = {2 * i}.", "answer": str(2 * i)} for i in range(n)]


def _config(tmp, data, **kw):
    # A learning rate that warms up to a value far too high: the validation loss falls, then climbs,
    # so the last step is clearly worse than the best one.
    base = {"input": data, "out": tmp / "run", "student": "tiny:2x32", "max_steps": 8, "batch_size": 3, "lr": 2.0, "warmup": 8,
            "lora": False, "val_fraction": 0.25, "eval_every": 0.34, "keep": "best", "save_total_limit": 20}  # fmt: skip
    return TrainConfig(**(base | kw))


def _weights(directory):
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


@pytest.fixture(scope="module")
def best_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("val")
    data = _write(tmp / "data.jsonl", _records())
    return tmp, data, run(_config(tmp, data))


def test_the_kept_model_is_the_best_checkpoint_and_metrics_record_best_and_last(best_run):
    _, _, out = best_run
    v = json.loads((out / "metrics.json").read_text())["validation"]
    assert v["sequences"] == 3 and v["eval_steps"] == 1 and v["keep"] == "best"
    assert [c["step"] for c in v["curve"]] == list(range(1, 9))
    losses = {c["step"]: c["eval_loss"] for c in v["curve"]}
    assert v["best_eval_loss"] == min(losses.values()) == losses[v["best_step"]]
    assert (v["last_step"], v["last_eval_loss"]) == (8, losses[8])
    assert v["best_step"] < v["last_step"] and v["best_eval_loss"] < v["last_eval_loss"] - 1.0  # the high lr made the end worse
    assert v["kept_step"] == v["best_step"]
    kept, best, last = (
        _weights(out / "model"),
        _weights(out / "checkpoints" / f"checkpoint-{v['best_step']}"),
        _weights(out / "checkpoints" / "checkpoint-8"),
    )
    assert all(torch.equal(kept[k], best[k]) for k in best)
    assert not all(torch.equal(kept[k], last[k]) for k in last)
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"] == {"input": 12, "sequences": 9, "records": 9, "rejects": 0, "validation": 3}
    assert man["metrics"]["validation"]["best_step"] == v["best_step"] and "curve" not in man["metrics"]["validation"]


def test_validation_rows_are_held_out_seeded_and_not_trained_on(best_run, tmp_path):
    tmp, data, out = best_run
    held = [json.loads(x)["id"] for x in (out / "validation.jsonl").read_text().splitlines()]
    assert len(held) == 3 == len(set(held))
    train, val, counts = prepare(_config(tmp, data, out=tmp_path / "a"))
    assert len(train) == 9 and len(val) == 3 and counts["validation"] == 3
    assert not {tuple(e["input_ids"]) for e in train} & {tuple(e["input_ids"]) for e in val}
    again = prepare(_config(tmp, data, out=tmp_path / "b"))[1]
    other = prepare(_config(tmp, data, out=tmp_path / "c", seed=1))[1]
    assert [e["input_ids"] for e in again] == [e["input_ids"] for e in val]  # seeded: the same rows every time
    assert [e["input_ids"] for e in other] != [e["input_ids"] for e in val]
    m = json.loads((out / "metrics.json").read_text())
    assert m["sequences"] == 8 * 3  # every trained sequence came from the 9 training rows (3 per step)


def test_the_split_is_the_one_datasets_train_test_split_makes():
    datasets = pytest.importorskip("datasets")
    rows = list(range(50))
    for size in (0.1, 7):
        ref = datasets.Dataset.from_dict({"i": rows}).train_test_split(test_size=size, seed=42)
        train, val = split_validation(rows, size, seed=42)
        assert (train, val) == (ref["train"]["i"], ref["test"]["i"])


def test_keep_last_saves_the_last_model_and_still_records_the_best(tmp_path):
    data = _write(tmp_path / "data.jsonl", _records())
    out = run(_config(tmp_path, data, keep="last", save_steps=4))
    v = json.loads((out / "metrics.json").read_text())["validation"]
    assert v["kept_step"] == 8 and v["best_step"] < 8
    kept, last = _weights(out / "model"), _weights(out / "checkpoints" / "checkpoint-8")
    assert all(torch.equal(kept[k], last[k]) for k in last)


def test_lora_keeps_the_best_adapter_merged(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = _write(tmp_path / "data.jsonl", _records())
    # An adapter on the output layer too: a random tiny model's logits barely move otherwise.
    out = run(_config(tmp_path, data, lora=True, lr=0.5, lora_targets="q_proj,v_proj,lm_head"))
    v = json.loads((out / "metrics.json").read_text())["validation"]
    assert v["kept_step"] == v["best_step"] < v["last_step"] == 8
    assert v["best_eval_loss"] < v["last_eval_loss"] - 1.0

    def merged(step):
        base = AutoModelForCausalLM.from_pretrained(out / "tiny-2x32-seed0")
        return PeftModel.from_pretrained(base, out / "checkpoints" / f"checkpoint-{step}").merge_and_unload().state_dict()

    kept = AutoModelForCausalLM.from_pretrained(out / "model").state_dict()
    best, last = merged(v["best_step"]), merged(8)
    assert all(torch.allclose(kept[k], best[k]) for k in best)
    assert not all(torch.allclose(kept[k], last[k]) for k in last)


def test_an_interrupted_run_with_validation_resumes_and_keeps_the_best(best_run, tmp_path):
    tmp, data, out = best_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "model")
    for step in range(6, 9):
        shutil.rmtree(copy / "checkpoints" / f"checkpoint-{step}")
    man = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(man | {"status": "running"}))
    run(_config(tmp, data, out=copy))
    m = json.loads((copy / "metrics.json").read_text())
    first = json.loads((out / "metrics.json").read_text())["validation"]
    assert m["extra"]["resumed_from"].endswith("checkpoint-5")
    assert m["validation"]["best_step"] == first["best_step"] == m["validation"]["kept_step"]
    assert [c["step"] for c in m["validation"]["curve"]] == list(range(1, 9))
    kept, best = _weights(copy / "model"), _weights(copy / "checkpoints" / f"checkpoint-{first['best_step']}")
    assert all(torch.equal(kept[k], best[k]) for k in best)


def test_a_validation_file_is_evaluated_and_never_trained_on(tmp_path):
    data = _write(tmp_path / "data.jsonl", _records(6))
    val = _write(
        tmp_path / "val.jsonl",
        [{"id": f"v{i}", "question": f"What is {i} times 3?", "pruned": f"{3 * i}.", "answer": str(3 * i)} for i in range(2)],
    )
    out = run(_config(tmp_path, data, val_fraction=None, val_file=val, max_steps=2, lr=1e-2, warmup=0, batch_size=2))
    m = json.loads((out / "metrics.json").read_text())
    assert m["validation"]["sequences"] == 2 and m["validation"]["last_step"] == 2
    assert m["sequences"] == 4
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"]["input"] == 6 and man["counts"]["validation"] == 2
    assert [json.loads(x)["id"] for x in (out / "validation.jsonl").read_text().splitlines()] == ["v0", "v1"]


def test_train_limit_counts_after_the_split_and_limit_before_it(tmp_path):
    data = _write(tmp_path / "data.jsonl", _records(12))
    train, val, counts = prepare(_config(tmp_path, data, out=tmp_path / "a", train_limit=5))
    assert (len(train), len(val)) == (5, 3) and counts == {"input": 12, "sequences": 5, "rejects": 0, "validation": 3, "unused": 4}
    train, val, counts = prepare(_config(tmp_path, data, out=tmp_path / "b", limit=8))
    assert (len(train), len(val)) == (6, 2) and counts["input"] == 8  # ceil(0.25 * 8) = 2 held out of the first 8 rows


def test_cli_takes_official_section_names_and_the_validation_flags(tmp_path):
    import typer
    from typer.testing import CliRunner

    from leancot.train.command import register

    app = typer.Typer()
    register(app)
    data = _write(tmp_path / "data.jsonl", _records(6))
    args = [str(data), "--out", str(tmp_path / "o"), "--student", "tiny:1x32", "--max-steps", "1", "--loss-on", "promptcotAns", "--think-close", "cot",
            "--policy", "lsp", "--lsp", "0.9", "--max-length", "512", "--length-filter", "drop", "--val-fraction", "2", "--keep", "best", "--full"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    man = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert man["config"]["loss_on"] == ["prompt", "cot", "answer"] and man["config"]["think_close"] == "cot"
    assert man["counts"]["validation"] == 2
    bad = CliRunner().invoke(app, [str(data), "--out", str(tmp_path / "p"), "--keep", "best"])
    assert bad.exit_code == 2 and "--keep best needs validation" in bad.output
