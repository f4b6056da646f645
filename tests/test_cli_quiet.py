"""A quiet CLI: training shows one bar and a summary line (the per-step log goes to a file), the
libraries' loading bars only with -v, and no FutureWarning from a LoRA run."""

from __future__ import annotations

import json
import warnings

import pytest
from typer.testing import CliRunner

from leancot.cli import app

runner = CliRunner()


def _data(tmp_path):
    rows = [{"id": f"p{i}", "question": f"What is {i} + {i}?", "pruned": f"{i} + {i} = {2 * i}.", "answer": str(2 * i)} for i in range(4)]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_train_prints_a_summary_not_a_dict_per_step(tmp_path, capfd):
    out = tmp_path / "run"
    args = ["train", str(_data(tmp_path)), "--out", str(out), "--student", "tiny:2x32", "--max-steps", "3", "--batch-size", "2", "--lora"]
    result = runner.invoke(app, args)
    captured = capfd.readouterr()
    printed = result.output + captured.out + captured.err
    assert result.exit_code == 0, printed
    assert "{'loss'" not in printed and "'grad_norm'" not in printed and "train_runtime" not in printed
    summary = [line for line in result.output.splitlines() if "3 steps" in line]
    assert len(summary) == 1 and "loss" in summary[0] and "train_log.jsonl" in summary[0]
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3]
    assert "train_runtime" in logged[-1]
    assert len(json.loads((out / "metrics.json").read_text())["loss_curve"]) == 3


@pytest.mark.filterwarnings("error::FutureWarning")
def test_a_lora_run_raises_no_future_warning(tmp_path):
    from leancot.train.config import TrainConfig
    from leancot.train.stage import run

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        run(TrainConfig(input=_data(tmp_path), out=tmp_path / "run", student="tiny:2x32", max_steps=1, batch_size=2, lora=True))
    assert (tmp_path / "run" / "model" / "config.json").exists()


# huggingface_hub reads HF_HUB_DISABLE_PROGRESS_BARS once, at import: after an earlier CLI test set it, re-enabling warns.
@pytest.mark.filterwarnings("ignore:Cannot enable progress bars:UserWarning")
def test_library_bars_are_off_unless_verbose(monkeypatch):
    import transformers

    from leancot.cli_utils import quiet_libraries

    for var in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(var, raising=False)
    was = transformers.utils.logging.is_progress_bar_enabled()
    try:
        transformers.utils.logging.enable_progress_bar()
        quiet_libraries(verbose=True)
        assert transformers.utils.logging.is_progress_bar_enabled()
        quiet_libraries(verbose=False)
        assert not transformers.utils.logging.is_progress_bar_enabled()
        import os

        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"  # worker processes inherit it
    finally:
        (transformers.utils.logging.enable_progress_bar if was else transformers.utils.logging.disable_progress_bar)()


@pytest.mark.filterwarnings("ignore:Cannot enable progress bars:UserWarning")
def test_a_user_setting_wins(monkeypatch):
    import transformers

    from leancot.cli_utils import quiet_libraries

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    monkeypatch.setenv("HF_DATASETS_DISABLE_PROGRESS_BARS", "0")
    was = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.enable_progress_bar()
    try:
        quiet_libraries(verbose=False)
        assert transformers.utils.logging.is_progress_bar_enabled()
    finally:
        (transformers.utils.logging.enable_progress_bar if was else transformers.utils.logging.disable_progress_bar)()
