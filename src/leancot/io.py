"""Reading inputs and writing stage outputs.

Inputs: JSONL (the native format), JSON arrays, CSV, Parquet and a Hugging Face
``datasets`` directory saved with ``save_to_disk``. Each input row comes out as a
``RawRow`` that either holds a dict or says why it could not be read, so a stage
can reject one bad line and go on: records + rejects = input, always.

Text hygiene, for every format: a UTF-8 byte-order mark at the start of a file is
dropped, and every string in a row (nested ones too) has its CRLF and lone CR line
ends turned into LF, before anything is counted or pruned. The same traces saved with
LF, CRLF or a BOM (as Excel and Windows editors write them) read as identical rows.

Outputs: ``StageOutput`` appends records and rejects line by line (flushed, so a
killed run loses at most the line being written) and, on a re-run, repairs a torn
last line and skips every id already written. Small files (manifests, summaries)
are written atomically with ``write_json_atomic``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel

from leancot.errors import UsageError
from leancot.extras import require


def _must_exist(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"input not found: {path}")
    return path


#: A config field naming an input that must exist (a one-line usage error otherwise).
InputPath = Annotated[Path, AfterValidator(_must_exist)]

# A weight after a path's last ':' (``runs/pruned:0.5``): a plain decimal number, signed so that a
# negative one is refused as a weight rather than looked for as a file.
_WEIGHT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def split_weight(text: str | Path) -> tuple[str, float | None]:
    """``"runs/pruned:0.5"`` -> ``("runs/pruned", 0.5)``; ``"data.jsonl"`` -> ``("data.jsonl", None)``.

    The weight is parsed only when what follows the last ``:`` is a number, so a Windows path
    (``C:\\x\\y.jsonl``), a directory with colons in its name (``dir:with:colons``) or
    ``bundled:r1-traces`` stays whole. A number may be negative or zero here; the caller judges it."""
    text = str(text)
    head, sep, tail = text.rpartition(":")
    if sep and head and _WEIGHT.fullmatch(tail.strip()):
        return head, float(tail)
    return text, None


MAX_LINE_BYTES = 8 * 1024 * 1024  # a longer line is rejected, not parsed
BOM = b"\xef\xbb\xbf"  # the UTF-8 byte-order mark some editors and Excel put first

# Field names looked for, in order, when the user does not name them: the one list every stage's
# reader uses (prune, generate, eval, train, the leakage guard). A problem file may also give its
# answer as a worked ``solution`` (``leancot.data.loader``); in a trace file that is the completion.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "uid", "unique_id", "problem_id", "idx"),
    "question": ("question", "problem", "prompt", "query", "input"),
    "completion": ("completion", "solution", "response", "output", "generation", "text"),
    "answer": ("gold_answer", "gt_answer", "answer", "final_answer", "ground_truth"),
}


@dataclass
class RawRow:
    """One input row: ``data`` when it parsed, else ``error`` says why not."""

    line: int  # 1-based position in the input
    data: dict[str, Any] | None = None
    error: str | None = None  # malformed_json | not_utf8 | line_too_long | not_an_object

    def __post_init__(self) -> None:
        if self.data is not None:
            self.data = normalise_newlines(self.data)


def normalise_newlines(value: Any) -> Any:
    """``value`` with CRLF and lone CR turned into LF in every string, through dicts and lists.

    Keys and order are kept; values that are not text are returned as they are.
    """
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
    if isinstance(value, dict):
        return {k: normalise_newlines(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise_newlines(v) for v in value]
    return value


@dataclass
class FieldMap:
    """Which input column holds each field; ``None`` means auto-detect."""

    id: str | None = None
    question: str | None = None
    completion: str | None = None
    answer: str | None = None
    resolved: dict[str, str | None] = field(default_factory=dict)

    def resolve(self, columns: Iterable[str]) -> dict[str, str | None]:
        """Pick a column per field: the user's choice (which must exist) or the first alias."""
        cols = list(columns)
        out: dict[str, str | None] = {}
        for name, aliases in FIELD_ALIASES.items():
            given = getattr(self, name)
            if given is not None and given not in cols:
                raise UsageError(f"field '{given}' (--{name}-field) is not in the input; it has: {', '.join(cols)}")
            out[name] = given or next((a for a in aliases if a in cols), None)
        self.resolved = out
        return out


def input_format(path: Path) -> str:
    """The format of an input path, from its suffix (or 'hf' for a datasets directory)."""
    if not path.exists():
        raise UsageError(f"input not found: {path}")
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        raise UsageError(f"{path} is a directory but not a saved Hugging Face dataset")
    suffix = path.suffix.lower()
    formats = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
    if suffix not in formats:
        raise UsageError(f"unsupported input format '{suffix}' for {path} (use .jsonl, .json, .csv, .parquet or a datasets dir)")
    return formats[suffix]


def iter_rows(path: str | Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RawRow]:
    """Every row of an input file, in order, each parsed or marked with its error."""
    path = Path(path)
    fmt = input_format(path)
    if fmt == "jsonl":
        yield from iter_jsonl(path, max_line_bytes=max_line_bytes)
    elif fmt == "json":
        yield from _iter_json_array(path)
    elif fmt == "csv":
        yield from _iter_csv(path)
    elif fmt == "parquet":
        yield from _iter_parquet(path)
    else:
        yield from _iter_hf_dataset(path)


def iter_jsonl(path: Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RawRow]:
    """Rows of a JSONL file; blank lines are skipped, every other line is accounted for."""
    with open(path, "rb") as f:
        for number, raw in enumerate(_bounded_lines(f, max_line_bytes), start=1):
            if number == 1 and raw is not None:
                raw = raw.removeprefix(BOM)  # else line 1 is lost as malformed_json
            if raw is None:
                yield RawRow(number, error="line_too_long")
            elif raw.strip():
                yield _parse_json_line(number, raw)


def _bounded_lines(f, max_bytes: int) -> Iterator[bytes | None]:
    """Lines of a binary file, yielding None (and skipping the rest) for an over-long line."""
    while True:
        line = f.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # drain the rest of the huge line
                line = f.readline(1 << 20)
            yield None
        else:
            yield line


def _parse_json_line(number: int, raw: bytes) -> RawRow:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return RawRow(number, error="not_utf8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return RawRow(number, error="malformed_json")
    if not isinstance(obj, dict):
        return RawRow(number, error="not_an_object")
    return RawRow(number, data=obj)


def _iter_json_array(path: Path) -> Iterator[RawRow]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a leading BOM is dropped
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{path} is not valid UTF-8 JSON: {e}") from None
    if isinstance(rows, dict):  # {"data": [...]}: an object holding one list of rows
        lists = [v for v in rows.values() if isinstance(v, list)]
        rows = lists[0] if len(lists) == 1 else rows
    if not isinstance(rows, list):
        raise UsageError(f"{path} must hold a JSON array of objects (or an object holding one)")
    for number, obj in enumerate(rows, start=1):
        yield RawRow(number, data=obj) if isinstance(obj, dict) else RawRow(number, error="not_an_object")


def _iter_csv(path: Path) -> Iterator[RawRow]:
    # utf-8-sig: a BOM would otherwise become part of the first column's name
    with open(path, newline="", encoding="utf-8-sig", errors="strict") as f:
        try:
            for number, row in enumerate(csv.DictReader(f), start=1):
                yield RawRow(number, data=dict(row))
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not valid UTF-8") from None


def _iter_parquet(path: Path) -> Iterator[RawRow]:
    pq = require("pyarrow.parquet", "data")
    table = pq.read_table(path)
    for number, row in enumerate(table.to_pylist(), start=1):
        yield RawRow(number, data=row)


def _iter_hf_dataset(path: Path) -> Iterator[RawRow]:
    datasets = require("datasets", "data")
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        raise UsageError(f"{path} holds several splits ({', '.join(ds)}); point at one split's directory")
    for number, row in enumerate(ds, start=1):
        yield RawRow(number, data=dict(row))


# --------------------------------------------------------------------------- writing


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON so that a reader sees either the old file or the whole new one."""
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_text_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl_atomic(path: str | Path, rows: Iterable[BaseModel | dict]) -> int:
    """Write a whole JSONL file atomically; returns the number of rows."""
    lines = [_dumps(r) for r in rows]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a JSONL file this package wrote (strict: a bad line is an error)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"file not found: {path}")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _dumps(row: BaseModel | dict) -> str:
    if isinstance(row, BaseModel):
        return row.model_dump_json()
    return json.dumps(row, ensure_ascii=False, default=str)


class StageOutput:
    """Append-and-resume writer for a stage's ``records.jsonl`` and ``rejects.jsonl``.

    Opening it on a directory from an interrupted run truncates a torn last line
    and remembers every id already written, so the stage can skip them: a re-run
    neither loses nor duplicates a record.
    """

    def __init__(self, out_dir: str | Path, *, key: str = "id"):
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.records_path = self.dir / "records.jsonl"
        self.rejects_path = self.dir / "rejects.jsonl"
        self.key = key
        self.record_ids = _load_ids(self.records_path, key)
        self.reject_ids = _load_ids(self.rejects_path, "id")
        self.resumed = len(self.record_ids) + len(self.reject_ids)
        self._records = open(self.records_path, "a", encoding="utf-8")
        self._rejects = open(self.rejects_path, "a", encoding="utf-8")

    def done(self, item_id: str) -> bool:
        return item_id in self.record_ids or item_id in self.reject_ids

    def add(self, record: BaseModel) -> None:
        item_id = str(getattr(record, self.key))
        self._records.write(_dumps(record) + "\n")
        self._records.flush()
        self.record_ids.add(item_id)

    def reject(self, item_id: str, reason: str, detail: str = "") -> None:
        row = {"id": item_id, "reason": reason}
        if detail:
            row["detail"] = detail[:500]
        self._rejects.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._rejects.flush()
        self.reject_ids.add(item_id)

    def close(self) -> None:
        for f in (self._records, self._rejects):
            f.flush()
            os.fsync(f.fileno())
            f.close()

    def __enter__(self) -> StageOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _load_ids(path: Path, key: str) -> set[str]:
    """Ids already in an output file, after cutting off a torn (unterminated) last line."""
    if not path.exists():
        return set()
    _truncate_torn_tail(path)
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ids.add(str(json.loads(line)[key]))
    return ids


def _truncate_torn_tail(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(cut)
