"""``leancot train`` under ``accelerate launch``: DDP over 2 CPU processes (gloo) against one process.

The records all render to the same number of tokens (byte tokenizer, equal-length text), so a
process's mean loss over its half of the global batch averages to the mean over the whole batch:
2 processes x batch 2 must then follow the loss curve of 1 process x batch 4, step by step.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leancot.train.config import TrainConfig
from leancot.train.stage import run

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # float32 reductions in another order (gloo all-reduce of two half-batch gradients)
STEPS = ["--max-steps", "4", "--save-steps", "2", "--lr", "3e-2", "--seed", "0"]

pytestmark = pytest.mark.slow


def _records(path: Path) -> Path:
    # i in 10..17: every question, reasoning and answer has the same length in bytes.
    rows = [
        {"id": f"p{i}", "question": f"What is {i} + {i}?", "pruned": f"{i} + {i} = {2 * i}.", "answer": str(2 * i)} for i in range(10, 18)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def launch(config: str, processes: int, data: Path, out: Path, student: Path, *extra: str) -> subprocess.CompletedProcess:
    """``accelerate launch --config_file accelerate_configs/CONFIG -m leancot.train.command ...`` on CPU."""
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ROOT / "accelerate_configs" / config),
        "--num_processes", str(processes), "--main_process_port", "0",
        "-m", "leancot.train.command", str(data), "--out", str(out), "--student", str(student), *STEPS, *extra,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def _losses(out: Path) -> list[float]:
    return [c["loss"] for c in json.loads((out / "metrics.json").read_text())["loss_curve"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_byte_model_dir):
    tmp = tmp_path_factory.mktemp("ddp")
    data = _records(tmp / "data.jsonl")
    single = run(
        TrainConfig(input=data, out=tmp / "single", student=str(tiny_byte_model_dir), batch_size=4, max_steps=4, save_steps=2, lr=3e-2)
    )
    ddp = tmp / "ddp"
    launch("ddp.yaml", 2, data, ddp, tiny_byte_model_dir, "--batch-size", "2")
    return tmp, data, single, ddp, tiny_byte_model_dir


def test_two_processes_step_together_and_match_one_process_on_the_same_global_batch(runs):
    _, _, single, ddp, _ = runs
    m = json.loads((ddp / "metrics.json").read_text())
    assert m["extra"]["processes"] == 2 and m["extra"]["distributed"] == "MULTI_CPU"  # gloo
    assert m["optimizer_steps"] == 4 and m["sequences"] == 16  # counted on both ranks, all-reduced
    assert m["trained_tokens"] == json.loads((single / "metrics.json").read_text())["trained_tokens"]
    assert _losses(ddp) == pytest.approx(_losses(single), abs=TOLERANCE)


def test_one_set_of_outputs(runs):
    from transformers import AutoModelForCausalLM

    _, _, _, ddp, _ = runs
    man = json.loads((ddp / "manifest.json").read_text())
    assert man["status"] == "complete"
    assert {k: man["counts"][k] for k in ("input", "sequences", "rejects")} == {"input": 8, "sequences": 8, "rejects": 0}
    assert (ddp / "rejects.jsonl").read_text() == ""
    assert sorted(p.name for p in (ddp / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert not [p for p in ddp.rglob("*") if ".tmp" in p.name]  # no half-written file left by a second writer
    model = AutoModelForCausalLM.from_pretrained(ddp / "model")
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_an_interrupted_two_process_run_resumes_from_its_last_checkpoint(runs, tmp_path):
    _, data, _, ddp, student = runs
    copy = tmp_path / "ddp"
    shutil.copytree(ddp, copy)
    # Simulate a run killed after its step-2 checkpoint.
    shutil.rmtree(copy / "model")
    shutil.rmtree(copy / "checkpoints" / "checkpoint-4")
    man = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(man | {"status": "running"}))
    launch("ddp.yaml", 2, data, copy, student, "--batch-size", "2")
    m = json.loads((copy / "metrics.json").read_text())
    assert m["extra"]["resumed_from"].endswith("checkpoint-2")
    assert [c["step"] for c in m["loss_curve"]] == [1, 2, 3, 4]  # no step trained twice
    assert _losses(copy) == pytest.approx(_losses(ddp), abs=TOLERANCE)
    assert m["sequences"] == 16
