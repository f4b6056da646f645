"""The exported rows, one function per format family, and the files they go to.

- chat rows (``messages``, ``prompt-completion``, ``sharegpt``): the turns of one exchange;
- ``alpaca``: instruction / input / output;
- tables (``parquet``, ``hf-dataset``): the ``messages`` rows in a columnar container;
- ``llamafactory_entry``: the ``dataset_info.json`` entry LLaMA-Factory needs for a ShareGPT or
  Alpaca file (fields as its ``data/README.md`` documents them).

Every row keeps the record's id in an ``id`` column: TRL, LLaMA-Factory and axolotl read the
columns they are told to and leave the others alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from leancot.errors import UsageError
from leancot.export.rows import Example
from leancot.extras import require

Row = dict[str, Any]

# LLaMA-Factory's ShareGPT tags: the keys of a turn and the values of its role (its README's defaults, written out).
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt", "system_tag": "system"}


def assistant_text(ex: Example, tags: tuple[str, str] | None) -> str:
    """The assistant turn: the reasoning in its tags, a blank line, the answer (``leancot.train.data``'s layout)."""
    if tags is None:
        return f"{ex.reasoning}\n\n{ex.answer}"
    return f"{tags[0]}\n{ex.reasoning}\n{tags[1]}\n\n{ex.answer}"


# --------------------------------------------------------------------------- chat rows


def chat_turns(ex: Example, tags: tuple[str, str] | None, system: str | None) -> list[Row]:
    """OpenAI roles: [system?, user, assistant]."""
    turns = [{"role": "system", "content": system}] if system else []
    return turns + [{"role": "user", "content": ex.question}, {"role": "assistant", "content": assistant_text(ex, tags)}]


def messages_row(ex: Example, tags: tuple[str, str] | None, system: str | None) -> Row:
    return {"id": ex.id, "messages": chat_turns(ex, tags, system)}


def prompt_completion_row(ex: Example, tags: tuple[str, str] | None, system: str | None) -> Row:
    turns = chat_turns(ex, tags, system)
    return {"id": ex.id, "prompt": turns[:-1], "completion": turns[-1:]}


def sharegpt_row(ex: Example, tags: tuple[str, str] | None, system: str | None) -> Row:
    """ShareGPT turns (``from`` / ``value``); the system prompt in its own column, as LLaMA-Factory documents it."""
    t = SHAREGPT_TAGS
    turns = [{t["role_tag"]: t["user_tag"], t["content_tag"]: ex.question},
             {t["role_tag"]: t["assistant_tag"], t["content_tag"]: assistant_text(ex, tags)}]  # fmt: skip
    return {"id": ex.id, "conversations": turns} | ({"system": system} if system else {})


# --------------------------------------------------------------------------- alpaca


def alpaca_row(ex: Example, tags: tuple[str, str] | None, system: str | None) -> Row:
    """The question is the instruction (``input`` empty: a question is one piece of text)."""
    row = {"id": ex.id, "instruction": ex.question, "input": "", "output": assistant_text(ex, tags)}
    return row | ({"system": system} if system else {})


ROWS = {
    "messages": messages_row,
    "prompt-completion": prompt_completion_row,
    "sharegpt": sharegpt_row,
    "alpaca": alpaca_row,
    "parquet": messages_row,
    "hf-dataset": messages_row,
}


# --------------------------------------------------------------------------- files


def write_jsonl(path: Path, rows: Iterable[Row]) -> int:
    """Write JSONL atomically (a reader sees the old file or the whole new one); returns the row count."""
    n = 0

    def lines() -> Iterable[str]:
        nonlocal n
        for row in rows:
            n += 1
            yield json.dumps(row, ensure_ascii=False) + "\n"

    _write_atomic(path, lines())
    return n


def _write_atomic(path: Path, chunks: Iterable[str]) -> None:
    """Write text through a temporary file that then replaces ``path``, with the mode ``path`` had
    (a new file: the usual mode under the umask, not the temporary file's 0600: trainers in other
    accounts or containers read these files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_parquet(path: Path, rows: list[Row]) -> int:
    pa = require("pyarrow", "data")
    pq = require("pyarrow.parquet", "data")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(rows)


def write_hf_dataset(path: Path, rows: list[Row]) -> int:
    """``Dataset.save_to_disk`` into a fresh directory that then takes the place of ``path``."""
    datasets = require("datasets", "data")
    if path.exists() and not _is_saved_dataset(path):
        raise UsageError(f"export: {path} exists and is not a saved dataset; give another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        datasets.Dataset.from_list(rows).save_to_disk(str(tmp / "dataset"))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp / "dataset", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(rows)


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and (path / "dataset_info.json").exists() and (path / "state.json").exists()


# --------------------------------------------------------------------------- LLaMA-Factory


def llamafactory_entry(fmt: str, file_name: str, *, system: bool) -> Row:
    """The ``dataset_info.json`` entry of an exported ShareGPT or Alpaca file (LLaMA-Factory ``data/README.md``).

    LLaMA-Factory reads every column and tag of a ``columns`` / ``tags`` block it is given and takes
    None for one left out, so the entry names each column the rows use (and the system column only
    when there is one)."""
    if fmt == "sharegpt":
        columns = {"messages": "conversations"} | ({"system": "system"} if system else {})
        return {"file_name": file_name, "formatting": "sharegpt", "columns": columns, "tags": dict(SHAREGPT_TAGS)}
    columns = {"prompt": "instruction", "query": "input", "response": "output"} | ({"system": "system"} if system else {})
    return {"file_name": file_name, "formatting": "alpaca", "columns": columns}


def add_dataset_info(dataset_info: Path, name: str, entry: Row) -> None:
    """Put ``entry`` under ``name`` in ``dataset_info.json``, keeping the other entries (e.g. LLaMA-Factory's own)."""
    existing: Row = {}
    if dataset_info.exists():
        try:
            existing = json.loads(dataset_info.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            existing = None  # type: ignore[assignment]
        if not isinstance(existing, dict):
            raise UsageError(f"export: {dataset_info} is not a JSON object; not overwriting it")
    _write_atomic(dataset_info, [json.dumps(existing | {name: entry}, indent=2, ensure_ascii=False) + "\n"])
