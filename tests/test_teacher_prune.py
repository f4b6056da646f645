"""``leancot prune --method llm`` end to end against the loopback server."""

import json

import pytest
from teacher_fixtures import SECRET, by_id, kill_9_after, write_traces

from leancot.errors import Interrupted
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run
from leancot.prune.teacher.config import TeacherConfig


def prune(inp, out, server, **teacher):
    teacher.setdefault("backoff_base", 0.01)
    return run(
        PruneConfig(input=inp, out=out, method="llm", teacher=TeacherConfig(model="gpt-4o-mini", base_url=server.base_url, **teacher))
    )


def test_records_are_pruned_by_the_teacher_and_every_input_is_accounted_for(server, tmp_path):
    bad = [{"id": "wrong", "question": "1 + 1?", "completion": "<think>1 + 1 = 3</think> \\boxed{3}", "gold_answer": "2"}]
    inp = write_traces(tmp_path / "in.jsonl", 6, extra=bad)
    out = prune(inp, tmp_path / "out", server)
    records, rejects = by_id(out / "records.jsonl"), by_id(out / "rejects.jsonl")
    assert len(records) + len(rejects) == 7 and rejects["wrong"]["reason"] == "incorrect_trace"
    r = records["t0"]
    assert r["method"] == "llm:gpt-4o-mini" and r["verified"] and "actions_inferred" not in r
    # the teacher named the steps; the path is the kept step's own text, then the answer
    assert r["pruned"] == "He buys 3 more, so 10 + 3 = 13.\nThe answer is \\boxed{13}" and r["tokens_after"] < r["tokens_before"]
    assert {s["action"] for s in r["steps"]} == {"keep", "delete"} and r["usage"]["prompt_tokens"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["usage"]["run"]["calls"] == 12 and manifest["usage"]["run"]["cost_usd"] > 0
    assert manifest["config"]["method"] == "llm" and manifest["teacher_settings"]["api_key_env"] == "OPENAI_API_KEY"


@pytest.mark.parametrize(
    "faults, method, calls",
    [
        (["fenced", "fenced"], "llm:gpt-4o-mini", 2),  # tolerant parsing, no retry needed
        (["bad_json"], "llm:gpt-4o-mini", 3),  # retried with the error fed back, then fine
        (["no_cover", "no_cover"], "heuristic:llm-fallback", 2),  # segmentation never covers the text
        (["not_schema", "not_schema"], "heuristic:llm-fallback", 2),
        (["ok", "invented_number", "invented_number"], "heuristic:llm-fallback", 3),  # a rewrite with a number from nowhere
        (["ok", "invented_number"], "llm:gpt-4o-mini", 3),  # ... fixed after the feedback
        (["ok", "all_deleted", "all_deleted"], "heuristic:llm-fallback", 3),  # nothing left of the reasoning
    ],
)
def test_invalid_answers_are_retried_then_fall_back_to_the_offline_pruner(server, tmp_path, faults, method, calls):
    server.script = list(faults)
    out = prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server, concurrency=1)
    record = by_id(out / "records.jsonl")["t0"]
    assert record["method"] == method and record["verified"] and server.chat_requests == calls
    if method.startswith("heuristic"):
        assert record["fallback_reason"].startswith("llm_invalid_")


@pytest.mark.parametrize("mode, feedback", [("text", "copy only"), ("units", "it must start at unit 1")])
def test_feedback_is_sent_back_to_the_teacher(server, tmp_path, mode, feedback):
    seen = []
    original = server.responder

    def spy(body, fault):
        seen.append(body["messages"])
        return original(body, fault)

    server.responder = spy
    server.script = ["no_cover"]
    prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server, segment_output=mode)
    retry = seen[1]
    assert retry[-2]["role"] == "assistant" and feedback in retry[-1]["content"]


def test_a_rerun_over_a_warm_cache_makes_zero_calls(server, tmp_path):
    inp = write_traces(tmp_path / "in.jsonl", 5)
    first = prune(inp, tmp_path / "a", server)
    calls = server.chat_requests
    second = prune(inp, tmp_path / "b", server, cache=first / "teacher_cache.sqlite")
    assert server.chat_requests == calls
    assert by_id(first / "records.jsonl") == by_id(second / "records.jsonl")
    assert json.loads((second / "manifest.json").read_text())["usage"]["run"]["cached_calls"] == 10


def test_transient_faults_lose_nothing(server, tmp_path):
    server.rates = {"500": 0.2, "429": 0.1, "malformed_body": 0.1}
    inp = write_traces(tmp_path / "in.jsonl", 20)
    out = prune(inp, tmp_path / "out", server, concurrency=8)
    records = by_id(out / "records.jsonl")
    assert len(records) == 20 and all(r["method"] == "llm:gpt-4o-mini" for r in records.values())
    failures = json.loads((out / "manifest.json").read_text())["call_failures"]
    assert sum(failures.values()) > 0


def test_the_budget_stops_cleanly_and_a_rerun_resumes(server, tmp_path):
    inp = write_traces(tmp_path / "in.jsonl", 6)
    out = prune(inp, tmp_path / "out", server, concurrency=1, max_cost=0.0002)
    manifest = json.loads((out / "manifest.json").read_text())
    done = len(by_id(out / "records.jsonl"))
    assert manifest["status"] == "incomplete" and manifest["stopped"].startswith("max_cost") and 0 < done < 6
    out = prune(inp, tmp_path / "out", server, concurrency=1)
    assert len(by_id(out / "records.jsonl")) == 6


def test_kill_9_then_resume_gives_the_same_records(server, tmp_path, monkeypatch):
    server.latency = 0.03
    inp = write_traces(tmp_path / "in.jsonl", 30)
    reference = prune(inp, tmp_path / "ref", server)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "out"
    kill_9_after(inp, out, server.base_url, records=5)
    partial = len(by_id(out / "records.jsonl"))
    assert 5 <= partial < 30
    prune(inp, out, server)
    assert by_id(out / "records.jsonl") == by_id(reference / "records.jsonl")
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_batch_mode_resubmits_only_failed_lines_and_keeps_every_batch_id(server, tmp_path):
    server.batch_line_fail_rate = 0.3
    server.content_fault_rate = 0.3
    inp = write_traces(tmp_path / "in.jsonl", 10)
    out = prune(inp, tmp_path / "out", server, batch=True, batch_poll_s=0.01)
    records = by_id(out / "records.jsonl")
    assert len(records) == 10 and server.chat_requests == 0
    state = json.loads((out / "batch_state.json").read_text())
    ids = [b["id"] for phase in state["phases"] for b in phase["batches"]]
    assert len(ids) == len(set(ids)) == len(server.batches)
    first = state["phases"][0]["batches"]
    assert first[0]["lines"] == 10 and len(first) > 1 and first[1]["lines"] < 10  # only the failed lines again
    assert (out / first[0]["input_file"]).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["usage"]["run"]["calls"] == server.batch_lines - sum(
        1 for _ in server._failed_once
    )
    # a rerun submits nothing
    before = len(server.batches)
    prune(inp, tmp_path / "out2", server, batch=True, batch_poll_s=0.01, cache=out / "teacher_cache.sqlite")
    assert len(server.batches) == before


def test_batch_mode_finds_a_batch_created_just_before_a_kill(server, tmp_path):
    from leancot.llm import batch as batch_mod

    inp = write_traces(tmp_path / "in.jsonl", 3)
    real_poll = batch_mod._poll

    async def die_after_create(*a, **k):
        raise KeyboardInterrupt  # as if killed right after the batch was created and recorded

    batch_mod._poll = die_after_create
    try:
        with pytest.raises(Interrupted):
            prune(inp, tmp_path / "out", server, batch=True, batch_poll_s=0.01)
    finally:
        batch_mod._poll = real_poll
    state = json.loads((tmp_path / "out" / "batch_state.json").read_text())
    entry = state["phases"][0]["batches"][0]
    del entry["id"]  # even without the id, the input file id finds the batch again
    (tmp_path / "out" / "batch_state.json").write_text(json.dumps(state))
    prune(inp, tmp_path / "out", server, batch=True, batch_poll_s=0.01)
    assert len(by_id(tmp_path / "out" / "records.jsonl")) == 3
    assert server.batches["batch_1"]["input_file_id"] == entry["input_file_id"]
    assert sum(1 for b in server.batches.values() if b["input_file_id"] == entry["input_file_id"]) == 1


def test_the_cli_prunes_with_a_teacher_and_never_writes_the_key(server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from leancot.cli import app

    monkeypatch.setenv("MY_TEACHER_KEY", SECRET)
    inp = write_traces(tmp_path / "in.jsonl", 3)
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
        server.base_url,
        "--api-key-env",
        "MY_TEACHER_KEY",
        "--concurrency",
        "4",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {r["method"] for r in by_id(tmp_path / "out" / "records.jsonl").values()} == {"llm:gpt-4o-mini"}
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_the_cli_wants_a_teacher_model_for_method_llm(tmp_path):
    from typer.testing import CliRunner

    from leancot.cli import app

    inp = write_traces(tmp_path / "in.jsonl", 1)
    result = CliRunner().invoke(app, ["prune", str(inp), "--out", str(tmp_path / "out"), "--method", "llm"])
    assert result.exit_code == 2 and "--teacher-model" in result.output


def spy_on(server):
    seen = []
    original = server.responder

    def spy(body, fault):
        seen.append(body)
        return original(body, fault)

    server.responder = spy
    return seen


@pytest.mark.parametrize("mode", ["units", "text"])
def test_both_calls_share_the_trace_as_a_prefix_and_the_compression_names_steps(server, tmp_path, mode):
    seen = spy_on(server)
    out = prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server, segment_output=mode)
    segment, compress = seen
    assert segment["messages"][0] == compress["messages"][0]  # one system message: instructions, then the trace
    assert "Okay, so Tom has 10 apples." in segment["messages"][0]["content"]
    assert segment["response_format"] == compress["response_format"]  # OpenAI caches the schema as part of the prefix
    user = compress["messages"][1]["content"]
    if mode == "units":  # the steps by their units, named by the first: the trace is not copied again
        assert "\n3 computation\n" in user and "apples" not in user
    assert '"pruned"' not in user and "rewritten" in user
    record = by_id(out / "records.jsonl")["t0"]
    assert record["verified"] and record["pruned"].endswith("The answer is \\boxed{13}")


def test_cached_prompt_tokens_are_counted_and_priced_in_records_and_manifest(server, tmp_path):
    from leancot.llm import pricing

    server.prompt_cache, server.cache_min_tokens, server.cache_block = "openai", 256, 16  # the test traces are short
    out = prune(write_traces(tmp_path / "in.jsonl", 3), tmp_path / "out", server, concurrency=1)
    records = by_id(out / "records.jsonl")
    for r in records.values():  # the compression call found the system message (with the trace) cached
        u = r["usage"]
        assert u["cached_prompt_tokens"] >= 256 and u["cached_prompt_tokens"] < u["prompt_tokens"]
        full = pricing.cost_usd("gpt-4o-mini", u["prompt_tokens"], u["completion_tokens"])
        assert u["cost_usd"] == pytest.approx(full - u["cached_prompt_tokens"] * (0.15 - 0.075) / 1e6, abs=2e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    total = sum(r["usage"]["cached_prompt_tokens"] for r in records.values())
    assert manifest["usage"]["run"]["cached_prompt_tokens"] == manifest["usage"]["total"]["cached_prompt_tokens"] == total
    assert total == server.cached_tokens_reported


@pytest.mark.parametrize(
    "fault, feedback",
    [
        ("omit_steps", "step 1 has no action: give every step exactly one, in order"),
        ("step_repeated", "step 5 is given twice"),
        ("unknown_letter", "step 3 has the action 'X'; use K (KEEP), D (DELETE)"),
        ("compress_no_text", 'step 3 is C without a text in "rewritten"'),
        ("merge_orphan", "step 3 is M without text, but no M run before it to join"),
    ],
)
def test_a_compression_that_does_not_name_every_step_once_is_fed_back(server, tmp_path, fault, feedback):
    seen = spy_on(server)
    server.script = ["ok", fault]
    record = by_id(prune(write_traces(tmp_path / "in.jsonl", 1), tmp_path / "out", server) / "records.jsonl")["t0"]
    assert record["method"] == "llm:gpt-4o-mini" and record["verified"] and server.chat_requests == 3
    retry = seen[2]["messages"]
    assert retry[-2]["role"] == "assistant" and feedback in retry[-1]["content"]
    assert "actions_inferred" not in record and record["pruned"] == "He buys 3 more, so 10 + 3 = 13.\nThe answer is \\boxed{13}"
