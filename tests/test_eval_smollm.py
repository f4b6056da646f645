"""The built-in SmolLM2-135M on a few GSM8K problems, through the same command users run."""

import json

import pytest

from leancot.evaluate.config import EvalConfig
from leancot.evaluate.stage import run


@pytest.mark.slow
def test_smollm2_on_three_gsm8k_problems(smollm2_dir, tmp_path):
    out = run(
        EvalConfig(model="smollm2-135m", benchmarks=["gsm8k"], limit=3, max_new_tokens=48, batch_size=3, threads=1, out=tmp_path / "ev")
    )
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(recs) == 3
    for r in recs:
        assert r["output"].strip()  # a real model writes words, not pads
        assert 0 < r["total_tokens"] <= 48
        assert r["finish_reason"] in ("stop", "length") and (r["finish_reason"] == "stop" or not r["correct"])
    s = json.loads((out / "summary.json").read_text())["benchmarks"]["gsm8k"]
    assert s["problems"] == 3 and s["tokens_per_s"] > 0
