"""One run of ``leancot prune --method llm`` against llama.cpp's own server, over the bundled real traces.

The server is ``python -m llama_cpp.server`` (``pip install 'llama-cpp-python[server]'``, or
``make test-real``) serving the built-in SmolLM2-135M GGUF on 127.0.0.1, as in ``tests/real``.
The traces are the correct ones of the 40 bundled R1-distill traces (``leancot.data.traces_path()``),
the first ``--traces`` of them. A 135M teacher writes poor steps: the figures are the protocol's
(calls, tokens, what was negotiated, where each trace went), not DRP's quality.

Prints: wall time, calls, prompt/completion tokens, records and rejects (by reason), fallbacks
(by reason) and the response_format the server was found to take.

On 2 CPU cores one call over a real trace (2-8k prompt tokens) takes minutes, so ``--budget-s``
bounds the run: the prune is stopped then (as a user's Ctrl-C would) and the figures are those of
the traces done so far, with calls and tokens read from the request cache.

Usage: python benchmarks/llama_server_run.py [--traces 20] [--budget-s 600] [--max-tokens 256] [--concurrency 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "real"))

from real_server import MODEL_ALIAS, LlamaServer, extract_gguf, leancot_popen  # noqa: E402

from leancot import data  # noqa: E402
from leancot.llm.cache import RequestCache  # noqa: E402
from leancot.models import cache_dir  # noqa: E402


def write_inputs(path: Path, n: int) -> int:
    rows = [r for r in data.load_traces() if r["is_correct"]][:n]
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "question": r["problem"], "completion": r["completion"],
                                "gold_answer": r["gt_answer"]}) + "\n")  # fmt: skip
    return len(rows)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=20, help="first N correct bundled traces (there are 20)")
    ap.add_argument("--budget-s", type=float, default=600, help="stop the prune after this many seconds")
    ap.add_argument("--max-tokens", type=int, default=256, help="completion limit per teacher call")
    ap.add_argument("--concurrency", default="1", help="leancot --concurrency (llama.cpp's server has one slot)")
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    ap.add_argument("--out", type=Path, help="output dir (default: a temp dir)")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally below stops the server
    work = Path(tempfile.mkdtemp(prefix="llama_server_run-"))
    out = args.out or work / "out"
    n = write_inputs(work / "traces.jsonl", args.traces)
    server = LlamaServer(extract_gguf(cache_dir()), work, threads=args.threads)
    proc = None
    try:
        server.start()
        started = time.perf_counter()
        proc = leancot_popen("prune", work / "traces.jsonl", "--out", out, "--method", "llm", "--teacher-model", MODEL_ALIAS,
                             "--base-url", server.base_url, "--max-tokens", str(args.max_tokens),
                             "--concurrency", args.concurrency, log=work / "prune.log")  # fmt: skip
        try:
            code = proc.wait(timeout=args.budget_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
        wall = time.perf_counter() - started
        answered, refused = server.answered(200), server.answered(None) - server.answered(200)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        server.stop()

    manifest = json.loads((out / "manifest.json").read_text())
    records, rejects = jsonl(out / "records.jsonl"), jsonl(out / "rejects.jsonl")
    with RequestCache(out / "teacher_cache.sqlite") as cache:
        held = cache.totals(MODEL_ALIAS)
    usage, source = (manifest.get("usage") or {}).get("total"), "the manifest's usage.total"
    if usage is None:  # stopped before the stage wrote its totals: what the cache holds is what was answered
        usage, source = {"calls": held["responses"]} | held, "the request cache"
    fallbacks = Counter(r.get("fallback_reason") for r in records if r["method"].startswith("heuristic:llm-fallback"))
    done = len(records) + len(rejects)
    print(f"llama.cpp server (llama-cpp-python, SmolLM2-135M Q4_1 GGUF, {args.threads} threads) <- leancot prune --method llm")
    print(f"traces:            {n} correct bundled R1-distill traces (max_tokens {args.max_tokens}, concurrency {args.concurrency})")
    print(f"exit code:         {code} (status {manifest['status']}; {done} of {n} traces done within the {args.budget_s:.0f} s budget)")
    print(f"wall time:         {wall:.1f} s ({wall / max(done, 1):.1f} s per finished trace)")
    print(f"calls:             {usage['calls']} ({source}); the server's access log: {answered} answered (200), {refused} refused")
    print(f"tokens:            prompt {usage['prompt_tokens']}, completion {usage['completion_tokens']}")
    print(f"records / rejects: {len(records)} / {len(rejects)} (of {done} done)")
    print(f"  by method:       {dict(Counter(r['method'] for r in records))}")
    print(f"  rejects:         {dict(Counter(r['reason'] for r in rejects))}")
    print(f"fallbacks:         {sum(fallbacks.values())} {dict(fallbacks)}")
    state = json.loads((out / "teacher_state.json").read_text()) if (out / "teacher_state.json").exists() else {}
    negotiated = manifest.get("server", {}).get("response_format") or state.get(
        "response_format"
    )  # an interrupted run's manifest has no "server"
    print(f"response_format:   {negotiated} (call failures: {manifest.get('call_failures')})")
    if code not in (0, 1):
        print((work / "prune.log").read_text()[-1500:])


if __name__ == "__main__":
    main()
