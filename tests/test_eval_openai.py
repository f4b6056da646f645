"""The OpenAI-compatible backend against a real loopback server with scripted answers and faults."""

import json
import socket

import pytest
from fake_openai_server import FakeOpenAI

from leancot import data
from leancot.errors import UsageError
from leancot.evaluate.config import EvalConfig
from leancot.evaluate.stage import run

GOLD = {p.question.strip(): p.gold_answer for p in data.load("gsm8k", limit=6)}


def answer_gold(body, fault):
    """A 'model' that thinks inside <think> and then answers the gold."""
    question = body["messages"][-1]["content"].split("\nPlease reason")[0]
    return f"<think>\nLet me add things up.\n</think>\nThe answer is \\boxed{{{GOLD[question]}}}."


@pytest.fixture
def server():
    srv = FakeOpenAI(responder=answer_gold)
    srv.start()
    yield srv
    srv.stop()


def _config(base_url, out, **kw):
    return EvalConfig(
        model="served-model",
        benchmarks=["gsm8k"],
        out=out,
        backend="openai",
        base_url=base_url,
        api_key_env="LEANCOT_TEST_NO_KEY",
        limit=6,
        concurrency=1,
        **kw,
    )


def test_a_served_model_is_graded_and_its_think_block_split(server, tmp_path, smollm2_tokenizer_dir):
    server.script = ["429", "500"]  # retried by the teacher client, invisible in the records
    out = run(_config(server.base_url, tmp_path / "ev", tokenizer=str(smollm2_tokenizer_dir)))
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all(r["correct"] for r in recs)
    assert all(r["reasoning_tokens"] > 0 and r["answer_tokens"] > 0 for r in recs)
    assert server.chat_requests == 8


def test_an_endpoint_that_goes_down_keeps_the_finished_records(server, tmp_path):
    server.script = ["ok", "ok", "ok"] + ["500"] * 50
    with pytest.raises(UsageError, match="finished records are kept"):
        run(_config(server.base_url, tmp_path / "ev", max_retries=1))
    assert len((tmp_path / "ev" / "records.jsonl").read_text().splitlines()) == 3
    server.script = []  # back up: the same command finishes the job
    run(_config(server.base_url, tmp_path / "ev", max_retries=1))
    assert len((tmp_path / "ev" / "records.jsonl").read_text().splitlines()) == 6


def test_an_endpoint_that_is_not_there_is_one_line_exit_2(tmp_path):
    import typer
    from typer.testing import CliRunner

    from leancot.evaluate.command import register

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    res = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            "m",
            "--backend",
            "openai",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--benchmarks",
            "gsm8k",
            "--limit",
            "2",
            "--max-retries",
            "1",
            "--out",
            str(tmp_path / "ev"),
        ],
    )
    assert res.exit_code == 2
    last = res.output.strip().splitlines()[-1]  # (above it: the progress bar, on a terminal redrawn in place)
    assert last.startswith("error:") and "failed" in last and "re-run" in last
