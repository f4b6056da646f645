"""Teacher stage figures against the loopback OpenAI-compatible server (tests/fake_openai_server.py).

Prints, each measured in this run:

1. throughput: traces/s of ``leancot prune --method llm`` at --concurrency 64 with 200 ms
   latency per call (each trace is two calls, so the bound is 160 traces/s);
2. fault injection: 30% of calls failing transiently (10% 429 with Retry-After, 10% 500,
   10% malformed body) and 10% of answers not matching the schema: input = records +
   rejects, no id twice, retries bounded;
3. kill -9 at a random point + resume gives the same records as an uninterrupted run;
4. a second run over a warm cache makes zero calls;
5. a grep of the output dirs, the caches and the logs for the API key finds nothing.

Usage: python benchmarks/teacher_throughput.py [--traces 640] [--latency 0.2] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "fake_openai_server.py"


def write_traces(path: Path, n: int) -> Path:
    """Short R1-style traces (answer a + b) with hesitation for the teacher to prune."""
    with open(path, "w") as f:
        for i in range(n):
            a, b = 10 + i, 3 + 2 * i
            f.write(
                json.dumps(
                    {
                        "id": f"t{i}",
                        "question": f"Tom has {a} apples and buys {b} more. How many apples does he have?",
                        "completion": f"<think>\nOkay, so Tom has {a} apples. Hmm, let me think. He buys {b} more, so {a} + {b} = {a + b}.\n"
                        f"Wait, let me double-check: {a} + {b} = {a + b}. Yes.\n</think>\nThe answer is \\boxed{{{a + b}}}.",
                        "gold_answer": str(a + b),
                    }
                )
                + "\n"
            )
    return path


class Server:
    """The fake server as a separate process (so it does not share our event loop)."""

    def __init__(self, latency: float, rates: dict | None = None, content_fault_rate: float = 0.0):
        args = [
            sys.executable,
            str(SERVER),
            "--latency",
            str(latency),
            "--rates",
            json.dumps(rates or {}),
            "--content-fault-rate",
            str(content_fault_rate),
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()

    def calls(self) -> int:
        with urllib.request.urlopen(self.url.replace("/v1", "/_stats")) as r:
            return json.load(r)["chat_requests"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def prune(inp: Path, out: Path, url: str, **teacher) -> dict:
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run
    from leancot.prune.teacher.config import TeacherConfig

    run(PruneConfig(input=inp, out=out, method="llm", teacher=TeacherConfig(model="gpt-4o-mini", base_url=url, **teacher)))
    return json.loads((out / "manifest.json").read_text())


def records(out: Path) -> dict[str, dict]:
    rows = [json.loads(x) for x in open(out / "records.jsonl") if x.strip()]
    return {r["id"]: r for r in rows}


def ids(path: Path) -> list[str]:
    return [json.loads(x)["id"] for x in open(path) if x.strip()] if path.exists() else []


def throughput(work: Path, n: int, latency: float, concurrency: int) -> None:
    server = Server(latency)
    try:
        inp = write_traces(work / "tp.jsonl", n)
        start, cpu = time.perf_counter(), time.process_time()
        m = prune(inp, work / "tp", server.url, concurrency=concurrency)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"throughput: {n} traces, {m['usage']['calls']} calls, latency {latency * 1000:.0f} ms, "
            f"concurrency {concurrency}: {wall:.2f} s -> {n / wall:.1f} traces/s "
            f"(bound {concurrency / (2 * latency):.0f}/s); records {m['counts']['records']}; "
            f"client CPU {1000 * cpu / n:.2f} ms/trace; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        ceiling = raw_calls_per_s(server.url, 2 * n, concurrency)
        print(
            f"throughput: same server and client, bare calls (no DRP work): {ceiling:.0f} calls/s "
            f"= {ceiling / 2:.0f} traces/s ceiling on this machine now; the stage reaches {n / wall / (ceiling / 2):.0%} of it"
        )
    finally:
        server.stop()


def raw_calls_per_s(url: str, n: int, concurrency: int) -> float:
    """Calls/s of the bare client against the same server: what the machine allows right now."""
    import asyncio

    from leancot.llm.client import LLMClient

    async def go() -> float:
        client = LLMClient("gpt-4o-mini", base_url=url, concurrency=concurrency)
        start = time.perf_counter()
        await asyncio.gather(*(client.chat([{"role": "user", "content": f"bare {i}"}]) for i in range(n)))
        await client.aclose()
        return n / (time.perf_counter() - start)

    return asyncio.run(go())


def faults(work: Path, n: int, concurrency: int) -> None:
    server = Server(0.02, rates={"429": 0.1, "500": 0.1, "malformed_body": 0.1}, content_fault_rate=0.1)
    try:
        inp = write_traces(work / "faults.jsonl", n)
        m = prune(inp, work / "faults", server.url, concurrency=concurrency, max_retries=6, backoff_base=0.05, backoff_cap=1.0)
        out = work / "faults"
        rec, rej = ids(out / "records.jsonl"), ids(out / "rejects.jsonl")
        methods: dict[str, int] = {}
        for r in records(out).values():
            methods[r["method"]] = methods.get(r["method"], 0) + 1
        u = m["usage"]
        print(
            f"faults: input {n}, records {len(rec)} + rejects {len(rej)} = {len(rec) + len(rej)}; "
            f"duplicates {len(rec) + len(rej) - len(set(rec) | set(rej))}; methods {methods}; "
            f"rejects {m['reject_reasons']}"
        )
        print(
            f"faults: server saw {server.calls()} requests; client attempts {u['attempts']}, retries {u['retries']}, "
            f"failures {m['call_failures']}, max attempts per request {m['max_attempts_per_request']} (bound 7)"
        )
    finally:
        server.stop()


def kill_and_resume(work: Path, n: int, logs: Path) -> None:
    server = Server(0.05)
    try:
        inp = write_traces(work / "kr.jsonl", n)
        ref = work / "kr_ref"
        prune(inp, ref, server.url, concurrency=16)
        out = work / "kr_out"
        code = (
            "import logging,sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
            "from leancot.prune.config import PruneConfig; from leancot.prune.stage import run; from leancot.prune.teacher.config import TeacherConfig; "
            f"run(PruneConfig(input={str(inp)!r}, out={str(out)!r}, method='llm', "
            f"teacher=TeacherConfig(model='gpt-4o-mini', base_url={server.url!r}, concurrency=16)))"
        )
        with open(logs / "killed_run.log", "w") as log:
            proc = subprocess.Popen([sys.executable, "-c", code], stderr=log, stdout=log)
            while not ids(out / "records.jsonl") and proc.poll() is None:
                time.sleep(0.02)
            delay = random.uniform(0.0, 1.5)
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        before = len(ids(out / "records.jsonl"))
        calls0 = server.calls()
        prune(inp, out, server.url, concurrency=16)
        same = records(out) == records(ref)
        print(
            f"kill -9: killed {delay:.2f} s after the first record with {before}/{n} records written; resumed with "
            f"{server.calls() - calls0} calls; records identical to the uninterrupted run: {same} "
            f"({len(records(out))} records, {len(ids(out / 'records.jsonl'))} lines)"
        )
        calls1 = server.calls()
        m = prune(inp, work / "kr_warm", server.url, concurrency=16, cache=ref / "teacher_cache.sqlite")
        print(
            f"warm cache: second run made {server.calls() - calls1} calls to the server "
            f"(manifest: calls {m['usage']['calls']}, cached {m['usage']['cached_calls']}); "
            f"records identical: {records(work / 'kr_warm') == records(ref)}"
        )
    finally:
        server.stop()


def grep_key(secret: str, *roots: Path) -> None:
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    hits = [str(p) for p in files if secret.encode() in p.read_bytes()]
    print(f"key grep: searched {len(files)} files (outputs, caches, batch files, logs): {len(hits)} contain the key {hits}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", type=int, default=640)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args()
    secret = "sk-bench-" + secrets.token_hex(16)
    os.environ["OPENAI_API_KEY"] = secret  # sent to the local server; must never reach a file
    with tempfile.TemporaryDirectory() as tmp:
        work, logs = Path(tmp) / "work", Path(tmp) / "logs"
        work.mkdir()
        logs.mkdir()
        logging.basicConfig(level=logging.DEBUG, filename=logs / "benchmark.log")
        import openai  # noqa: F401 - one-time imports and loads (~2 s), not part of the throughput

        from leancot.tokens import count_tokens

        count_tokens("warm up the tokenizer", "smollm2-135m")
        throughput(work, args.traces, args.latency, args.concurrency)
        faults(work, 1000, args.concurrency)
        kill_and_resume(work, 300, logs)
        grep_key(secret, work, logs)


if __name__ == "__main__":
    main()
