"""The same traces saved with LF, CRLF, lone CR or a BOM read as byte-identical rows.

Each file is written the way a tool writes it: Python on Linux (LF), Windows editors
(CRLF, often with a UTF-8 BOM), old Mac tools (lone CR), Excel's "CSV UTF-8" (BOM, CRLF
rows, and quoted cells that hold line breaks).
"""

import csv
import io
import json

import pytest

from leancot.io import iter_rows, normalise_newlines

TRACES = [
    {"id": "t1", "problem": "What is $2 + 3$?", "response": "<think>\nSo 2 + 3 = 5.\n\nYes.\n</think>\n\n\\boxed{5}", "gt_answer": "5"},
    {
        "id": "t2",
        "problem": "Compute:\n\\[ 6 \\times 7 \\]",
        "response": "<think>\n6 * 7 = 42.\n</think>\n\nThe answer is 42.",
        "gt_answer": "42",
    },
]
BOM = b"\xef\xbb\xbf"


def _crlf(row: dict, eol: str = "\r\n") -> dict:
    return {k: v.replace("\n", eol) for k, v in row.items()}


def _parsed(path) -> bytes:
    return json.dumps([r.data for r in iter_rows(path)], ensure_ascii=False).encode()


def _jsonl(rows, eol="\n") -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + eol for r in rows).encode()


def _csv(rows, lineterminator) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, list(rows[0]), lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


VARIANTS = {
    "jsonl": {
        "lf": _jsonl(TRACES),
        "crlf": _jsonl([_crlf(r) for r in TRACES], "\r\n"),
        "bom+crlf": BOM + _jsonl([_crlf(r) for r in TRACES], "\r\n"),
        "lone cr": _jsonl([_crlf(r, "\r") for r in TRACES]),
    },
    "json": {
        "lf": json.dumps(TRACES, indent=2).encode(),
        "bom+crlf": BOM + json.dumps([_crlf(r) for r in TRACES], indent=2).replace("\n", "\r\n").encode(),
    },
    "csv": {
        "lf": _csv(TRACES, "\n"),
        "crlf": _csv(TRACES, "\r\n"),  # Python's csv default
        "excel": BOM + _csv([_crlf(r) for r in TRACES], "\r\n"),  # BOM, CRLF rows, CRLF inside quoted cells
    },
}


@pytest.mark.parametrize("suffix", list(VARIANTS))
def test_line_ends_and_bom_do_not_change_the_rows(tmp_path, suffix):
    parsed = {}
    for name, data in VARIANTS[suffix].items():
        path = tmp_path / f"{name.replace(' ', '_').replace('+', '_')}.{suffix}"
        path.write_bytes(data)
        parsed[name] = _parsed(path)
    assert len(set(parsed.values())) == 1, parsed
    rows = json.loads(parsed["lf"])
    assert rows == TRACES and "\r" not in parsed["lf"].decode()


def test_a_bom_no_longer_costs_jsonl_its_first_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(BOM + _jsonl(TRACES))
    assert [(r.line, r.error, r.data["id"]) for r in iter_rows(path)] == [(1, None, "t1"), (2, None, "t2")]


def test_a_bom_is_not_part_of_the_first_csv_column(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(BOM + _csv(TRACES, "\r\n"))
    assert list(next(iter_rows(path)).data) == ["id", "problem", "response", "gt_answer"]


def test_newlines_are_normalised_in_nested_values_and_nothing_else_changes():
    row = {"messages": [{"role": "user", "content": "a\r\nb\rc"}], "n": 3, "ok": True, "none": None, "x\r": "y"}
    assert normalise_newlines(row) == {"messages": [{"role": "user", "content": "a\nb\nc"}], "n": 3, "ok": True, "none": None, "x\r": "y"}
