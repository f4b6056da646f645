"""``leancot generate``: rejection sampling of teacher traces, output readable by ``leancot prune``."""

import json

import typer
from teacher_fixtures import by_id
from typer.testing import CliRunner

from leancot.generate.command import register
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run as prune_offline


def test_generate_keeps_correct_samples_and_prune_reads_them(server, tmp_path):
    # the fake reasoning model adds the numbers of the question: right for the first two problems only
    problems = tmp_path / "problems.jsonl"
    rows = [
        {"id": "p1", "question": "Add 2 and 5.", "answer": "7"},
        {"id": "p2", "question": "What is 10 plus 4?", "answer": "14"},
        {"id": "p3", "question": "What is 6 times 7?", "answer": "42"},
    ]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command, so typer keeps 'generate' as a subcommand
    out = tmp_path / "gen"
    args = ["generate", str(problems), "--out", str(out), "--model", "qwq-32b", "--base-url", server.base_url, "-n", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records, rejects = by_id(out / "records.jsonl"), by_id(out / "rejects.jsonl")
    assert set(records) == {"p1#0", "p1#1", "p2#0", "p2#1"} and set(rejects) == {"p3#0", "p3#1"}
    assert rejects["p3#0"]["reason"] == "incorrect"
    r = records["p1#0"]
    assert r["gold_answer"] == "7" and r["correct"] and r["model"] == "qwq-32b" and "</think>" in r["completion"]
    # a second run is skipped: no calls
    calls = server.chat_requests
    assert CliRunner().invoke(app, args).exit_code == 0 and server.chat_requests == calls
    # the output is the input of `leancot prune`
    pruned = prune_offline(PruneConfig(input=out / "records.jsonl", out=tmp_path / "pruned", require_correct=True))
    assert len(by_id(pruned / "records.jsonl")) + len(by_id(pruned / "rejects.jsonl")) == 4


def test_generate_bad_usage_exits_2(tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(
        app, ["generate", "no-such-benchmark", "--out", str(tmp_path / "o"), "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    )
    assert result.exit_code == 2 and "unknown benchmark" in result.output


def test_a_separate_reasoning_field_is_put_back_inside_think():
    from leancot.generate.stage import full_text
    from leancot.llm.client import Completion

    text = full_text(Completion(content="The answer is \\boxed{4}.", reasoning="2 + 2 = 4."))
    assert text.startswith("<think>\n2 + 2 = 4.\n</think>") and text.endswith("\\boxed{4}.")
    assert full_text(Completion(content="<think>x</think> 4")) == "<think>x</think> 4"


def test_prices_are_matched_by_prefix_and_extendable(tmp_path):
    from leancot.errors import UsageError
    from leancot.llm import pricing

    assert pricing.price_of("gpt-4o-mini-2024-07-18") == pricing.PRICES["gpt-4o-mini"]
    assert pricing.cost_usd("gpt-4o", 1_000_000, 0, batch=True) == 1.25
    (tmp_path / "p.json").write_text('{"my-distill-32b": {"input": 0.1, "output": 0.2}}')
    pricing.load_prices(tmp_path / "p.json")
    assert abs(pricing.cost_usd("my-distill-32b", 1_000_000, 1_000_000) - 0.3) < 1e-9
    (tmp_path / "bad.json").write_text('{"m": 3}')
    import pytest

    with pytest.raises(UsageError, match="cannot read prices"):
        pricing.load_prices(tmp_path / "bad.json")
