"""A SQLite cache of teacher responses, keyed by a hash of what was asked.

The key is the sha256 of ``(model, messages, params, salt)`` in canonical JSON, so the
same request always finds the same row and a changed prompt, temperature or model never
does. Only complete, well-formed HTTP responses are stored (a 429 or a timeout is not),
including responses that later fail DRP's validation: a re-run then replays exactly the
same conversation and makes zero calls.

Why SQLite in WAL mode: every ``put`` is one transaction, so a process killed with
``kill -9`` leaves either the whole row or none; readers never block the writer; and
``synchronous=NORMAL`` is crash-safe for an application crash (only a power cut may drop
the last few commits, which are then simply asked again). One connection is shared by
the event loop's thread; a lock makes it safe for callers in other threads too.

The cache never holds an API key: the key is not part of a request body or the params.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any], salt: str = "") -> str:
    """sha256 (hex) of a request; ``salt`` separates otherwise equal requests (e.g. sample k of n)."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params, "salt": salt}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RequestCache:
    """``get``/``put`` of response dicts by request key, persisted in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, model: str, response: dict[str, Any]) -> None:
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, response, created) VALUES (?, ?, ?, ?)", (key, model, text, time.time())
            )

    def totals(self, model: str) -> dict[str, int]:
        """Responses held for ``model`` and their tokens: what the calls that filled the cache cost
        (``cached_prompt_tokens``: of the prompt tokens, those the provider's prompt cache served)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(json_extract(response, '$.prompt_tokens')), 0), "
                "COALESCE(SUM(json_extract(response, '$.completion_tokens')), 0), "
                "COALESCE(SUM(json_extract(response, '$.cached_prompt_tokens')), 0) FROM responses WHERE model = ?",
                (model,),
            ).fetchone()
        return {"responses": row[0], "prompt_tokens": int(row[1]), "completion_tokens": int(row[2]), "cached_prompt_tokens": int(row[3])}

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
