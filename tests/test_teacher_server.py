"""The DRP teacher against servers as they are: negotiation, outages, context limits, odd answers, usage.

The loopback server (``fake_openai_server``) plays the faults a real server makes, some on
demand (a refusal of ``json_schema`` in llama.cpp's words, a context-length 400, an empty
``choices``); ``make test-real`` runs the same stage against llama.cpp's own server.
"""

from __future__ import annotations

import json
import socket

import pytest
from teacher_fixtures import SECRET, by_id, kill_9_after, write_traces

from leancot.errors import StageIncomplete
from leancot.llm.cache import RequestCache
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run
from leancot.prune.teacher.config import TeacherConfig


def prune(inp, out, base_url, **teacher):
    fallback = teacher.pop("fallback", "heuristic")
    teacher.setdefault("backoff_base", 0.01)
    settings = TeacherConfig(model="gpt-4o-mini", base_url=base_url, **teacher)
    return run(PruneConfig(input=inp, out=out, method="llm", teacher=settings, fallback=fallback))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_refuses_json_schema_is_asked_for_json_object_and_that_is_remembered(server, tmp_path, caplog):
    server.refuse_formats = {"json_schema"}
    out = prune(write_traces(tmp_path / "in.jsonl", 3), tmp_path / "out", server.base_url, concurrency=1)
    records = by_id(out / "records.jsonl")
    assert {r["method"] for r in records.values()} == {"llm:gpt-4o-mini"}
    assert server.refused_formats == 1  # refused once, then the run asked for what the server takes
    assert json.loads((out / "teacher_state.json").read_text())["response_format"] == "json_object"
    assert "Input should be 'text' or 'json_object'" in caplog.text  # the server's own words are kept
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["server"]["response_format"] == "json_object"


def test_no_structured_output_at_all_is_the_last_step_and_the_config_is_the_same(server, tmp_path):
    server.refuse_formats = {"json_schema", "json_object"}
    inp = write_traces(tmp_path / "in.jsonl", 2)
    out = prune(inp, tmp_path / "out", server.base_url)
    assert json.loads((out / "teacher_state.json").read_text())["response_format"] == "none"
    prune(inp, tmp_path / "out", server.base_url, structured=False)  # not another config: up to date
    assert len(by_id(out / "records.jsonl")) == 2


def test_a_server_that_is_down_stops_the_run_resumably_with_exit_2(server, tmp_path):
    inp = write_traces(tmp_path / "in.jsonl", 6)
    down = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(StageIncomplete, match=rf"teacher unreachable at {down} \(connection_refused\): 6 of 6 items left"):
        prune(inp, tmp_path / "out", down, max_retries=1, breaker_after=2, concurrency=1)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["call_failures"].get("connection_refused")
    assert not (tmp_path / "out" / "rejects.jsonl").read_text()  # nothing turned into a permanent reject
    out = prune(inp, tmp_path / "out", server.base_url)  # the server is back: the same command finishes
    assert len(by_id(out / "records.jsonl")) == 6


def test_the_cli_says_how_many_are_left_and_exits_2(server, tmp_path):
    from typer.testing import CliRunner

    from leancot.cli import app

    inp = write_traces(tmp_path / "in.jsonl", 3)
    down = f"http://127.0.0.1:{free_port()}/v1"
    args = [
        "prune",
        str(inp),
        "--out",
        str(tmp_path / "out"),
        "--method",
        "llm",
        "--teacher-model",
        "gpt-4o-mini",
        "--base-url",
        down,
        "--max-retries",
        "0",
        "--breaker-after",
        "1",
        "--backoff-base",
        "0.01",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"teacher unreachable at {down}" in result.output and "3 of 3 items left; re-run the same command to resume" in result.output


def test_a_prompt_over_the_context_goes_to_the_offline_fallback_or_is_rejected(server, tmp_path):
    inp = write_traces(tmp_path / "in.jsonl", 1)
    server.script = ["context_length"]
    (record,) = by_id(prune(inp, tmp_path / "fb", server.base_url) / "records.jsonl").values()
    assert record["method"] == "heuristic:llm-fallback" and record["fallback_reason"] == "context_length"
    assert "maximum context length" in record["fallback_detail"]
    server.script = ["context_length"]
    from leancot.errors import StageFailed

    with pytest.raises(StageFailed, match="context_length 1"):
        prune(inp, tmp_path / "rej", server.base_url, fallback="reject")


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("empty_choices", None),  # a 200 with no choice: retried as a malformed body, then answered
        ("content_null", None),  # the JSON only in reasoning_content: read from there
        ("length_cut", "cut off at the token limit"),
        ("unit_out_of_range", "units are numbered 1 to"),
        ("unit_repeated", "every step must start after the one before it"),
        ("out_of_order", "it must start at unit 1"),
        ("unknown_skill", "the step at unit 1 has the skill 'musing', which is not in the table"),
    ],
)
def test_odd_answers_are_recovered_or_fed_back_with_a_reason(server, tmp_path, fault, reason):
    seen = []
    original = server.responder

    def spy(body, f):
        seen.append(body["messages"])
        return original(body, f)

    server.responder = spy
    server.script = [fault]
    out = prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server.base_url)
    (record,) = by_id(out / "records.jsonl").values()
    assert record["method"] == "llm:gpt-4o-mini" and record["verified"]
    if reason is None:
        assert all(len(m) == 2 for m in seen)  # no re-ask was needed
    else:
        feedback = [m[-1]["content"] for m in seen if len(m) > 2]
        assert feedback and reason in feedback[0]


def test_every_record_carries_its_usage_fallbacks_included(server, tmp_path):
    server.script = ["not_schema", "not_schema"]
    out = prune(write_traces(tmp_path / "in.jsonl", 2), tmp_path / "out", server.base_url, concurrency=1)
    records = by_id(out / "records.jsonl")
    methods = {r["method"] for r in records.values()}
    assert "heuristic:llm-fallback" in methods
    assert all(r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0 for r in records.values())


def test_after_kill_9_the_usage_total_is_what_the_cache_holds(server, tmp_path, monkeypatch):
    server.latency = 0.03
    inp = write_traces(tmp_path / "in.jsonl", 30)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "out"
    kill_9_after(inp, out, server.base_url, records=5)
    prune(inp, out, server.base_url, concurrency=2)
    manifest = json.loads((out / "manifest.json").read_text())
    with RequestCache(out / "teacher_cache.sqlite") as cache:
        held = cache.totals("gpt-4o-mini")
    assert manifest["usage"]["total"]["calls"] == held["responses"]
    assert manifest["usage"]["total"]["completion_tokens"] == held["completion_tokens"]
    assert 0 <= server.chat_requests - held["responses"] <= 2  # at most the requests in flight at the kill were lost


def test_max_cost_counts_what_earlier_runs_spent(server, tmp_path):
    inp = write_traces(tmp_path / "in.jsonl", 6)
    prune(inp, tmp_path / "out", server.base_url, concurrency=1, max_cost=0.0002)
    calls = server.chat_requests
    prune(inp, tmp_path / "out", server.base_url, concurrency=1, max_cost=0.0002)  # the same budget is already spent
    assert server.chat_requests == calls
