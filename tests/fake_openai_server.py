"""A real OpenAI-compatible HTTP server on loopback, with scripted answers and faults.

It speaks ``POST /v1/chat/completions`` and the Batch API's ``/v1/files`` and
``/v1/batches`` endpoints, answering DRP's prompts like a (simple, honest) teacher:
the segmentation takes the trace sentence by sentence (one step per unit, ``"1 computation;
2 hesitation"``, or copied), the compression names the hesitation steps D and the others K
(``"1K 2D"``). Tests start it in a
background thread (``FakeOpenAI().start()`` returns its base URL); the throughput
benchmark runs it as a separate process (``python tests/fake_openai_server.py``).

Prompt caching: with ``server.prompt_cache = "openai"`` (or ``"deepseek"``) it plays a provider's
automatic prompt caching: a request whose prompt (the response_format, which OpenAI puts first,
then the messages) begins like an earlier one reports that shared prefix as cached tokens
(4 characters a token, as its ``prompt_tokens`` are counted), in ``cache_block`` steps once it
reaches ``cache_min_tokens`` (OpenAI's 1024 and 128 by default), as
``usage.prompt_tokens_details.cached_tokens`` (or DeepSeek's ``prompt_cache_hit_tokens``).

Faults, to check the client's retries and the stage's validation:

- ``server.script``: a FIFO of faults, one consumed per chat request: ``"429"`` (with
  ``Retry-After``), ``"500"``, ``"hang"`` (sleeps ``hang_s``, past the client timeout),
  ``"malformed_body"`` (truncated JSON with status 200), ``"drop"`` (connection closed),
  ``"bad_json"``, ``"not_schema"``, ``"no_cover"`` (steps that skip most of the trace),
  ``"invented_number"`` (a rewrite with a number the trace does not have), ``"omit_steps"`` (no
  action for the first step), ``"step_repeated"`` (the last step's action twice), ``"all_deleted"``
  (every step D), ``"compress_no_text"`` (a C without its text), ``"merge_orphan"`` (an M without
  text and no run to join), ``"unknown_letter"`` (an X for an action), ``"fenced"`` (valid JSON
  inside a code fence with prose around it), ``"ok"``;
- ``"context_length"`` (HTTP 400 "maximum context length"), ``"empty_choices"`` (200 with no
  choice), ``"length_cut"`` (``finish_reason: length`` mid-JSON), ``"content_null"`` (the answer
  only in ``reasoning_content``), ``"unit_out_of_range"``, ``"unit_repeated"``, ``"out_of_order"``,
  ``"unknown_skill"`` (a skill not in the table);
- the official DRP prompts (``--prompt-style drp-paper``, recognised by their system text) are
  answered in their free-text forms (``Step n: ... / Skill: ...``; evaluations, then ``## path``),
  with atomic mathematical skills ("addition", ...); their faults: ``"paper_no_skill"`` (the
  ``Skill:`` lines left out), ``"paper_loose"`` (bold, odd numbering, skill on the text's line,
  no trailing newline), ``"paper_no_hashes"`` (the path without ``##``), ``"paper_silent"`` (no
  per-step evaluations), ``"wrong_answer"`` (the path after ``##`` with another answer) and
  ``"no_cover"`` as above;
- ``server.refuse_formats``: response_format types refused with HTTP 500 (llama.cpp's wording);
- ``server.rates``: random faults per request, e.g. ``{"500": 0.2, "429": 0.1}``;
- ``server.content_fault_rate``: a share of traces (chosen by a hash of the trace, so the
  same ones every run) whose first answer does not match the schema; half of them stay
  wrong after the error is fed back (so the stage falls back to the offline pruner).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

Responder = Callable[[dict[str, Any]], str]
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_STEP = re.compile(r"Step (\d+) \[(\w+)\]:\n(.*?)(?=\n\nStep \d+ \[|\Z)", re.S)
_HESITANT = re.compile(r"^\W*(?:hmm|wait|let me (?:think|double-check|check)|okay|yes\b)", re.I)


def drp_answer(body: dict[str, Any], fault: str = "ok") -> str:
    """A teacher's answer to DRP's segmentation or compression request (or a solution)."""
    if len(body["messages"]) < 2:
        return _solve(body["messages"][-1]["content"])
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    if system.startswith("You will be provided with a full reasoning path"):  # the official DRP prompts
        return _paper_segment(user, fault)
    if "mathematical reasoning compression" in system:
        return _paper_compress(user, fault)
    if "Distilled Reasoning Pruning" in system and user.startswith("TASK 1"):  # leancot's: one system, the task in the user turn
        return _segment_units(system, fault) if "<units>" in system else _segment(system, fault)
    if "Distilled Reasoning Pruning" in system and user.startswith("TASK 2"):
        return _compress(system, user, fault)
    return _solve(user)


def _segment(system: str, fault: str) -> str:
    trace = system.split("<trace>\n", 1)[1].rsplit("\n</trace>", 1)[0]
    parts = [p.strip() for p in _SENTENCE.split(trace) if p and p.strip()]
    if fault == "no_cover":
        parts = parts[:1]
    steps = [{"text": p, "skill": "hesitation" if _HESITANT.match(p) else "computation"} for p in parts]
    return _wrap({"steps": steps, "actions": None, "rewritten": None}, fault)


_UNIT = re.compile(r"^\[(\d+)\] (.*)$", re.M)


def _units(system: str) -> list[tuple[int, str]]:
    return [(int(n), text) for n, text in _UNIT.findall(system.split("<units>\n", 1)[1].rsplit("\n</units>", 1)[0])]


def _segment_units(system: str, fault: str) -> str:
    """Segmentation by unit ids, ``"1 problem_setup; 2 hesitation; ..."``: one step per unit, hesitation labelled as such."""
    units = _units(system)
    if fault == "unit_out_of_range":
        units = [*units, (len(units) + 5, "")]
    if fault == "unit_repeated":
        units = [*units, units[-1]]
    if fault == "out_of_order":
        units = list(reversed(units))
    if fault == "no_cover":
        units = units[1:]  # the first step starts at unit 2
    skills = ["hesitation" if _HESITANT.match(text) else "computation" for _, text in units]
    if fault == "unknown_skill":
        skills[0] = "musing"
    steps = "; ".join(f"{n} {skill}" for (n, _), skill in zip(units, skills))
    return _wrap({"steps": steps, "actions": None, "rewritten": None}, fault)


_STEP_UNITS = re.compile(r"^(\d+)(?:-(\d+))? (\w+)$", re.M)


def _listed_steps(system: str, user: str) -> list[tuple[int, str, str]]:
    """(name, skill, text) of the steps a compression request lists: by their units (named by the first), or
    with their text (named by their number)."""
    listing = user.split("\n\nGive every step", 1)[0]
    if "<units>" not in system:
        return [(int(n), skill, text.strip()) for n, skill, text in _STEP.findall(listing)]
    units = dict(_units(system))
    return [(int(a), skill, " ".join(units[u] for u in range(int(a), int(b or a) + 1))) for a, b, skill in _STEP_UNITS.findall(listing)]


def _compress(system: str, user: str, fault: str) -> str:
    """Names each step's action, ``"1D 2D 3K 4D"``: hesitation and the answer's own statement D, the rest K."""
    steps = _listed_steps(system, user)
    letters = ["D" if skill == "hesitation" or "\\boxed" in text or fault == "all_deleted" else "K" for _, skill, text in steps]
    rewritten = []
    kept = letters.index("K") if "K" in letters else 0
    if fault == "invented_number":  # a rewrite with a number the trace does not have
        letters[kept] = "C"
        rewritten.append({"step": steps[kept][0], "text": "So the total is 98765."})
    if fault == "compress_no_text":
        letters[kept] = "C"
    if fault == "merge_orphan":
        letters[kept] = "M"
    if fault == "unknown_letter":
        letters[kept] = "X"
    actions = [f"{name}{letter}" for (name, _, _), letter in zip(steps, letters)]
    if fault == "omit_steps":
        actions = actions[1:]
    if fault == "step_repeated":
        actions = [*actions, actions[-1]]
    return _wrap({"steps": None, "actions": " ".join(actions), "rewritten": rewritten}, fault)


def _atomic_skill(text: str) -> str:
    """An open-ended atomic mathematical skill, as DRP's teacher names them."""
    if _HESITANT.match(text):
        return "checking a condition"
    if "+" in text:
        return "addition"
    return "interpreting a quantity"


def _paper_segment(user: str, fault: str) -> str:
    """The official segmentation answer: ``Step n: <sentence>`` then ``Skill: <atomic skill>``."""
    trace = user.split("<think>\n", 1)[1].rsplit("\n</think>", 1)[0]
    parts = [p.strip() for p in _SENTENCE.split(trace) if p and p.strip()]
    if fault == "no_cover":
        parts = parts[:1]
    if fault == "paper_no_skill":
        return "\n\n".join(f"Step {i}: {p}" for i, p in enumerate(parts, start=1))
    if fault == "paper_loose":
        lines = (f"**Step {i}.** {p}  **Skill:** {_atomic_skill(p)}" for i, p in enumerate(parts, start=1))
        return "Here are the steps.\n" + "\n".join(lines)
    return "\n\n".join(f"Step {i}: {p}\nSkill: {_atomic_skill(p)}" for i, p in enumerate(parts, start=1)) + "\n"


_PAPER_STEP = re.compile(r"Step (\d+): (.*?)\nSkill: (.*?)(?=\n\nStep \d+: |\Z)", re.S)


def _paper_compress(user: str, fault: str) -> str:
    """The official compression answer: an evaluation per step, then the path after ``##``."""
    steps = [(int(n), text.strip()) for n, text, _ in _PAPER_STEP.findall(user.split("Reasoning Steps:\n", 1)[1])]
    evaluations, kept = [], []
    for n, text in steps:
        delete = bool(_HESITANT.match(text))
        evaluations.append(f"Step {n}: {'DELETE' if delete else 'KEEP'}")
        if not delete:
            kept.append(text)
    numbers = re.findall(r"\d+", " ".join(kept))
    final = "999" if fault == "wrong_answer" else (numbers[-1] if numbers else "0")
    path = " ".join(kept) + f" The answer is {final}."
    if fault == "paper_no_hashes":
        return "\n".join(evaluations) + "\n\nCompressed reasoning: " + path
    head = "" if fault == "paper_silent" else "\n".join(evaluations) + "\n\n"
    return head + "## Integrated compressed reasoning\n" + path


def _solve(user: str) -> str:
    """A 'reasoning model' for ``leancot generate``: adds the numbers of the question."""
    numbers = [int(n) for n in re.findall(r"\d+", user.split("Please reason")[0])]
    total = sum(numbers)
    return f"<think>\nThe numbers are {numbers}. Adding them gives {total}.\n</think>\nThe answer is \\boxed{{{total}}}."


def _wrap(obj: dict[str, Any], fault: str) -> str:
    if fault == "bad_json":
        return 'Sure! Here it is: {"steps": [oops'
    if fault == "not_schema":
        return json.dumps({"result": "done", "items": 3})
    if fault == "fenced":
        return "Here is the JSON you asked for:\n```json\n" + json.dumps(obj) + "\n```\nHope this helps."
    return json.dumps(obj)


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings (binary search over slices, fast in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def completion_body(content: str, model: str, prompt_chars: int) -> dict[str, Any]:
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(content) // 4)
    return {
        "id": f"chatcmpl-{random.getrandbits(48):x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeOpenAI:
    """The server; configure the attributes, then ``start()`` (thread) or ``serve()`` (process)."""

    def __init__(self, *, latency: float = 0.0, seed: int = 0, responder: Callable[[dict[str, Any], str], str] = drp_answer):
        self.latency = latency
        self.responder = responder
        self.script: list[str] = []
        self.rates: dict[str, float] = {}
        self.content_fault_rate = 0.0
        self.retry_after = "0.05"
        self.hang_s = 5.0
        self.batch_line_fail_rate = 0.0
        self.batch_delay_s = 0.05
        self.rng = random.Random(seed)
        self.chat_requests = 0  # every chat request received, faulty ones included
        self.fault_counts: dict[str, int] = {}
        self.batch_lines = 0
        self.refuse_formats: set[str] = set()  # response_format types answered with HTTP 500, as llama.cpp's server does
        self.refused_formats = 0
        self.prompt_cache: str | None = None  # "openai" / "deepseek": report cached prompt tokens in that provider's field
        self.cache_min_tokens = 1024  # OpenAI caches prompts from 1024 tokens ...
        self.cache_block = 128  # ... in steps of 128 tokens
        self.cached_tokens_reported = 0
        self._prompts: collections.deque[str] = collections.deque(maxlen=256)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._failed_once: set[str] = set()
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ chat

    def _pick_fault(self) -> str:
        if self.script:
            return self.script.pop(0)
        for name, rate in self.rates.items():
            if self.rng.random() < rate:
                return name
        return "ok"

    def _content_fault(self, body: dict[str, Any]) -> str:
        if not self.content_fault_rate:
            return "ok"
        first = "".join(m["content"] for m in body["messages"][:2])  # the trace's request, the same on a re-ask
        h = int(hashlib.sha256(first.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        retried = len(body["messages"]) > 2
        if h < self.content_fault_rate / 2 or (h < self.content_fault_rate and not retried):
            return "not_schema"
        return "ok"

    def answer(self, body: dict[str, Any], fault: str) -> str:
        if fault == "ok":
            fault = self._content_fault(body)
        return self.responder(body, fault)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.chat_requests += 1
        fault = self._pick_fault()
        self.fault_counts[fault] = self.fault_counts.get(fault, 0) + 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
        if fault == "429":
            return web.json_response(
                {"error": {"message": "rate limited", "type": "rate_limit"}}, status=429, headers={"Retry-After": self.retry_after}
            )
        if fault == "500":
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if fault == "malformed_body":
            return web.Response(text='{"id": "x", "choices": [{"message": ', content_type="application/json")
        if fault == "drop":
            request.transport.close()
            return web.Response(status=500)
        body = await request.json()
        refused = self._refusal(body, fault)
        if refused is not None:
            return refused
        content = self.answer(body, fault)
        reply = completion_body(content, body["model"], len(json.dumps(body["messages"])))
        if self.prompt_cache:
            self._report_cached(reply["usage"], json.dumps(body.get("response_format")), json.dumps(body["messages"]))
        return web.json_response(self._shape(reply, fault))

    def _report_cached(self, usage: dict[str, Any], schema: str, messages: str) -> None:
        """The prefix this prompt shares with an earlier one, as a provider's prompt cache reports it: the
        schema comes first (a changed schema shares nothing), then the messages, whose shared part is counted."""
        prompt = schema + messages
        shared = max(0, max((_common_prefix(prompt, seen) for seen in self._prompts), default=0) - len(schema)) // 4
        self._prompts.append(prompt)
        cached = min(usage["prompt_tokens"], shared // self.cache_block * self.cache_block if shared >= self.cache_min_tokens else 0)
        self.cached_tokens_reported += cached
        if self.prompt_cache == "deepseek":
            usage.update(prompt_cache_hit_tokens=cached, prompt_cache_miss_tokens=usage["prompt_tokens"] - cached)
        else:
            usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}

    def _refusal(self, body: dict[str, Any], fault: str) -> web.Response | None:
        """What a real server says to a request it will not take (llama.cpp's and OpenAI's wording)."""
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.refuse_formats:
            self.refused_formats += 1
            detail = [
                {
                    "type": "literal_error",
                    "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'",
                    "input": kind,
                }
            ]
            return web.json_response({"detail": detail}, status=500)
        if fault == "context_length":
            message = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
            return web.json_response(
                {"error": {"message": message, "type": "invalid_request_error", "code": "context_length_exceeded"}}, status=400
            )
        return None

    @staticmethod
    def _shape(reply: dict[str, Any], fault: str) -> dict[str, Any]:
        """Well-formed HTTP answers that are still not usable as they are."""
        choice = reply["choices"][0]
        if fault == "empty_choices":
            reply["choices"] = []
        elif fault == "length_cut":
            choice["message"]["content"] = choice["message"]["content"][: len(choice["message"]["content"]) // 2]
            choice["finish_reason"] = "length"
        elif fault == "content_null":
            choice["message"]["reasoning_content"] = choice["message"]["content"]
            choice["message"]["content"] = None
        return reply

    # ------------------------------------------------------------------ files and batches

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        data = form["file"].file.read()
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = data
        return web.json_response(self._file_obj(fid, form.get("purpose", "batch")))

    def _file_obj(self, fid: str, purpose: str = "batch") -> dict[str, Any]:
        return {
            "id": fid,
            "object": "file",
            "bytes": len(self.files[fid]),
            "created_at": int(time.time()),
            "filename": f"{fid}.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    async def file_content(self, request: web.Request) -> web.Response:
        fid = request.match_info["fid"]
        if fid not in self.files:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=self.files[fid], content_type="application/octet-stream")

    async def create_batch(self, request: web.Request) -> web.Response:
        req = await request.json()
        bid = f"batch_{len(self.batches) + 1}"
        batch = {
            "id": bid,
            "object": "batch",
            "endpoint": req["endpoint"],
            "input_file_id": req["input_file_id"],
            "completion_window": req["completion_window"],
            "status": "validating",
            "created_at": int(time.time()),
            "metadata": req.get("metadata"),
            "output_file_id": None,
            "error_file_id": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }
        self.batches[bid] = batch
        asyncio.get_running_loop().create_task(self._process(batch))
        return web.json_response(batch)

    async def _process(self, batch: dict[str, Any]) -> None:
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x.strip()]
        batch["status"] = "in_progress"
        batch["request_counts"]["total"] = len(lines)
        await asyncio.sleep(self.batch_delay_s)
        ok, bad = [], []
        for line in lines:
            self.batch_lines += 1
            cid = line["custom_id"]
            if cid not in self._failed_once and self.rng.random() < self.batch_line_fail_rate:
                self._failed_once.add(cid)
                bad.append(
                    {"id": f"r-{cid[:8]}", "custom_id": cid, "response": None, "error": {"code": "server_error", "message": "line failed"}}
                )
                continue
            content = self.answer(line["body"], "ok")
            body = completion_body(content, line["body"]["model"], len(json.dumps(line["body"]["messages"])))
            ok.append({"id": f"r-{cid[:8]}", "custom_id": cid, "response": {"status_code": 200, "body": body}, "error": None})
        batch["output_file_id"] = self._store("\n".join(json.dumps(x) for x in ok) + "\n") if ok else None
        batch["error_file_id"] = self._store("\n".join(json.dumps(x) for x in bad) + "\n") if bad else None
        batch["request_counts"].update(completed=len(ok), failed=len(bad))
        batch["status"] = "completed"

    def _store(self, text: str) -> str:
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = text.encode()
        return fid

    async def get_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["bid"])
        return web.json_response(batch) if batch else web.json_response({"error": {"message": "no such batch"}}, status=404)

    async def list_batches(self, request: web.Request) -> web.Response:
        data = list(reversed(self.batches.values()))
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        """Counters, for a benchmark that runs the server as a separate process."""
        return web.json_response({"chat_requests": self.chat_requests, "faults": self.fault_counts})

    # ------------------------------------------------------------------ running

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{fid}/content", self.file_content)
        app.router.add_post("/v1/batches", self.create_batch)
        app.router.add_get("/v1/batches", self.list_batches)
        app.router.add_get("/v1/batches/{bid}", self.get_batch)
        app.router.add_get("/_stats", self.stats)
        return app

    async def _start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    def start(self) -> str:
        """Serve in a background thread; returns the base URL (``http://127.0.0.1:PORT/v1``)."""
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.base_url

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> None:
    """Run as a process: prints the base URL on stdout, then serves until killed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--rates", default="{}", help='random faults, e.g. {"500": 0.3}')
    p.add_argument("--content-fault-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    server = FakeOpenAI(latency=args.latency, seed=args.seed)
    server.rates = json.loads(args.rates)
    server.content_fault_rate = args.content_fault_rate

    async def run() -> None:
        print(await server._start(), flush=True)
        while True:
            await asyncio.sleep(3600)

    asyncio.run(run())


if __name__ == "__main__":
    main()
