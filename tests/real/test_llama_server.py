"""leancot's teacher, generate and eval stages against llama.cpp's own server (SmolLM2-135M, loopback).

A 135M model writes poor steps: these tests check the protocol (negotiation, accounting, usage,
resumption, the key), never the quality of what it writes.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest
from real_server import DUMMY_KEY, MODEL_ALIAS, assert_key_written_nowhere, leancot, leancot_popen
from teacher_fixtures import by_id, write_traces

from leancot.llm.cache import RequestCache
from leancot.llm.client import cached_prompt_tokens

pytestmark = pytest.mark.real

TEACHER = ["--method", "llm", "--teacher-model", MODEL_ALIAS, "--max-tokens", "256"]  # bounded: a 135M model may ramble to n_ctx


def accounted(out, n: int) -> tuple[dict, dict]:
    """records + rejects = the n inputs, no id twice (``by_id`` asserts that per file) nor in both files."""
    records, rejects = by_id(out / "records.jsonl"), by_id(out / "rejects.jsonl")
    assert not set(records) & set(rejects), "an id is both a record and a reject"
    assert len(records) + len(rejects) == n
    return records, rejects


def test_prune_negotiates_json_object_accounts_for_every_trace_and_every_call(llama_server, proxy, tmp_path):
    inp = write_traces(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out"
    answered_before = llama_server.answered()
    # one request at a time: llama.cpp's server has one slot, and a request queued there past the timeout would be
    # answered to nobody, so the server's count would exceed what the client received (on a loaded 2-core box)
    args = ["prune", inp, "--out", out, *TEACHER, "--base-url", proxy.base_url, "--concurrency", "1"]
    run = leancot(*args)
    assert run.code in (0, 1), run.output  # 1: every trace rejected, a possible outcome with this teacher

    records, rejects = accounted(out, 4)
    assert set(records) | set(rejects) == {f"t{i}" for i in range(4)}
    for r in records.values():
        assert r["method"] == f"llm:{MODEL_ALIAS}" or r["method"].startswith("heuristic:llm-fallback"), r["method"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["input"] == 4 and manifest["counts"]["records"] + manifest["counts"]["rejects"] == 4

    # llama.cpp refuses json_schema with a 500 in its own words; leancot steps down to json_object and remembers it
    refused = proxy.chats(500)
    assert refused and all(e.request["response_format"]["type"] == "json_schema" for e in refused)
    assert "Input should be 'text' or 'json_object'" in json.dumps(refused[0].response)
    answered = proxy.chats(200)
    assert answered and all(e.request["response_format"]["type"] == "json_object" for e in answered)
    assert manifest["server"]["response_format"] == "json_object"
    assert json.loads((out / "teacher_state.json").read_text())["response_format"] == "json_object"

    # usage adds up: the manifest, the cache and the server's own access log count the same calls and tokens
    usage = manifest["usage"]["total"]
    assert usage["calls"] == len(answered) == llama_server.answered() - answered_before
    assert usage["prompt_tokens"] == sum(e.response["usage"]["prompt_tokens"] for e in answered)
    assert usage["completion_tokens"] == sum(e.response["usage"]["completion_tokens"] for e in answered)
    # cached prompt tokens as the server reports them (llama-cpp-python's server reports none: 0)
    assert usage["cached_prompt_tokens"] == sum(cached_prompt_tokens(e.response["usage"]) for e in answered)
    with RequestCache(out / "teacher_cache.sqlite") as cache:
        held = cache.totals(MODEL_ALIAS)
    assert held == {"responses": usage["calls"], "prompt_tokens": usage["prompt_tokens"],
                    "completion_tokens": usage["completion_tokens"], "cached_prompt_tokens": usage["cached_prompt_tokens"]}  # fmt: skip

    # the key went to the server and nowhere else
    assert {e.authorization for e in proxy.exchanges if e.path.endswith("/chat/completions")} == {f"Bearer {DUMMY_KEY}"}
    assert_key_written_nowhere(out, run.output)

    rerun = leancot(*args)  # done: nothing is asked again
    assert rerun.code in (0, 1) and len(proxy.chats(None)) == len(refused) + len(answered), rerun.output


def test_generate_accounts_for_every_sample(proxy, tmp_path):
    out = tmp_path / "gen"
    run = leancot("generate", "gsm8k", "--limit", "2", "--model", MODEL_ALIAS, "--base-url", proxy.base_url,
                  "--max-tokens", "64", "--out", out)  # fmt: skip
    assert run.code in (0, 1), run.output  # 1: both samples wrong, likely from a 135M model in 64 tokens
    records, rejects = accounted(out, 2)
    assert all(r.get("reason") for r in rejects.values())
    manifest = json.loads((out / "manifest.json").read_text())
    served = proxy.chats(200)
    usage = manifest["usage"]["total"]  # what the whole run spent (the request cache's responses)
    assert usage["calls"] == len(served) == 2
    assert usage["completion_tokens"] == sum(e.response["usage"]["completion_tokens"] for e in served)
    assert all(e.request["max_tokens"] == 64 for e in served)
    assert_key_written_nowhere(out, run.output)


def test_eval_openai_takes_each_records_tokens_from_the_servers_usage(proxy, tmp_path):
    out = tmp_path / "eval"
    run = leancot("eval", "--backend", "openai", "--model", MODEL_ALIAS, "--base-url", proxy.base_url,
                  "--benchmarks", "gsm8k", "--limit", "2", "--max-new-tokens", "32", "--out", out)  # fmt: skip
    assert run.code == 0, run.output
    files = sorted(out.rglob("records.jsonl"))
    assert files and any(out.rglob("summary.json")), sorted(p.relative_to(out) for p in out.rglob("*"))
    records = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    assert len(records) == 2
    served = proxy.chats(200)
    assert len(served) == 2
    from_server = Counter((e.response["choices"][0]["message"]["content"], e.response["usage"]["completion_tokens"]) for e in served)
    assert Counter((r["output"], r["total_tokens"]) for r in records) == from_server
    assert all(r["total_tokens"] <= 32 for r in records)
    assert_key_written_nowhere(out, run.output)


def test_a_server_killed_mid_run_stops_prune_with_exit_2_and_the_same_command_finishes(spare_server, tmp_path):
    spare_server.start()
    inp = write_traces(tmp_path / "in.jsonl", 6)
    out = tmp_path / "out"
    args = ["prune", inp, "--out", out, *TEACHER, "--base-url", spare_server.base_url,
            "--max-retries", "1", "--breaker-after", "2", "--backoff-base", "0.01"]  # fmt: skip
    log = tmp_path / "first_run.log"
    proc = leancot_popen(*args, log=log)
    deadline = time.monotonic() + 300
    while spare_server.answered() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # kill once the server has answered a call or two: some work done, most left
    spare_server.kill()
    proc.wait(timeout=300)
    output = log.read_text()
    assert proc.returncode == 2, output
    url = re.escape(spare_server.base_url)
    left = re.search(rf"teacher unreachable at {url}[^:\n]*: (\d+) of 6 items left; re-run the same command to resume", output)
    assert left, output
    assert 1 <= int(left.group(1)) <= 6
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    done = [line for name in ("records.jsonl", "rejects.jsonl") for line in (out / name).read_text().splitlines() if line.strip()]
    assert len(done) == 6 - int(left.group(1))  # what is not left is written, and nothing else

    spare_server.start()  # back on the same port: the same command finishes the job
    rerun = leancot(*args)
    assert rerun.code in (0, 1), rerun.output
    records, rejects = accounted(out, 6)
    assert set(records) | set(rejects) == {f"t{i}" for i in range(6)}
    manifest = json.loads((out / "manifest.json").read_text())
    with RequestCache(out / "teacher_cache.sqlite") as cache:
        assert manifest["usage"]["total"]["calls"] == cache.totals(MODEL_ALIAS)["responses"]
    assert_key_written_nowhere(out, output, rerun.output)
