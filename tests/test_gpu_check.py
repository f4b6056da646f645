"""benchmarks/gpu_check.sh --dry: every step of the GPU check runs on CPU and the JSON has its figures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_runs_every_step_and_writes_one_json(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = os.environ | {"PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert set(figures) == {"device", "sft", "lsp", "kd", "fsdp", "lab", "targets"}
    for mode in ("lora", "full"):
        assert {"params", "step_seconds", "tokens_per_second", "mfu", "peak_memory_bytes"} <= set(figures["sft"][mode])
        assert figures["sft"][mode]["tokens_per_second"] > 0
    assert figures["lsp"]["lsp_0.5"]["tokens"] == figures["lsp"]["lsp_1.0"]["tokens"] // 2
    assert {"step_time_ratio", "peak_memory_ratio"} <= set(figures["lsp"])
    assert figures["kd"]["max_abs_diff"] < 1e-5 and "peak_memory_ratio" in figures["kd"]
    assert figures["fsdp"]["rc"] == 0 and figures["fsdp"]["optimizer_steps"] == 4
    assert figures["lab"]["rc"] == 0 and figures["lab"]["targets"]
    assert set(figures["targets"]) == {"lsp_step_time_ratio", "lsp_peak_memory_ratio", "kd_peak_memory_ratio", "kd_max_abs_diff"}
