"""--seed fixes everything random in training: the same tiny run twice gives the same losses and weights."""

import json

import torch
from safetensors.torch import load_file

from leancot.tiny import make_tiny_model
from leancot.train.config import TrainConfig
from leancot.train.stage import run


def _run(tmp, name, data, student, **kw):
    config = TrainConfig(
        input=data, out=tmp / name, student=str(student), max_steps=3, batch_size=2, lr=3e-2, warmup=0, save_steps=10, seed=0, **kw
    )
    out = run(config)
    curve = [c["loss"] for c in json.loads((out / "metrics.json").read_text())["loss_curve"]]
    return curve, load_file(out / "model" / "model.safetensors")


def test_same_seed_same_losses_and_weights_lora_init_included(tmp_path):
    data = tmp_path / "d.jsonl"
    rows = [{"id": f"p{i}", "question": f"What is {i} + {i}?", "pruned": f"{i} + {i} = {2 * i}.", "answer": str(2 * i)} for i in range(6)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # A checkpoint on disk, as a real student is (a tiny:<spec> student is built, and seeded, per run).
    student = make_tiny_model(tmp_path / "student", n_layer=2, hidden=32, heads=4, seed=0)
    torch.manual_seed(1234)  # whatever state the process is in must not matter
    curve_a, weights_a = _run(tmp_path, "a", data, student, lora=True, lora_r=4)
    torch.rand(100)  # the first run and this draw moved the global generator on
    curve_b, weights_b = _run(tmp_path, "b", data, student, lora=True, lora_r=4)
    assert len(curve_a) == 3 and curve_a == curve_b
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
