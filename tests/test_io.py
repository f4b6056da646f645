"""Reading every input format, and the append-and-resume writer."""

import csv
import json

import pytest

from leancot.errors import UsageError
from leancot.io import FieldMap, StageOutput, iter_rows, read_jsonl, write_json_atomic, write_jsonl_atomic
from leancot.schema import Reject


def write_lines(path, lines: list[bytes]):
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_jsonl_bad_lines_are_reported_not_raised(tmp_path):
    path = write_lines(
        tmp_path / "in.jsonl",
        [b'{"id": 1, "question": "q"}', b"{not json", b"\xff\xfe bytes", b"[1, 2]", b"", b'{"id": 2}'],
    )
    rows = list(iter_rows(path))
    assert [(r.line, r.error) for r in rows] == [(1, None), (2, "malformed_json"), (3, "not_utf8"), (4, "not_an_object"), (6, None)]


def test_a_huge_line_is_rejected_and_reading_goes_on(tmp_path):
    huge = b'{"q": "' + b"x" * 5000 + b'"}'
    path = write_lines(tmp_path / "in.jsonl", [b'{"id": 1}', huge, b'{"id": 3}'])
    rows = list(iter_rows(path, max_line_bytes=1024))
    assert [r.error for r in rows] == [None, "line_too_long", None]
    assert rows[2].data == {"id": 3}


def test_csv_and_json_inputs(tmp_path):
    with open(tmp_path / "in.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["problem", "solution"])
        w.writeheader()
        w.writerow({"problem": "1+1?", "solution": "2"})
    assert [r.data for r in iter_rows(tmp_path / "in.csv")] == [{"problem": "1+1?", "solution": "2"}]
    (tmp_path / "in.json").write_text(json.dumps([{"a": 1}, 5]))
    assert [r.error for r in iter_rows(tmp_path / "in.json")] == [None, "not_an_object"]


def test_parquet_and_hf_dataset_inputs(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"prompt": "p", "response": "r", "gt_answer": "3"}])
    ds.to_parquet(str(tmp_path / "in.parquet"))
    ds.save_to_disk(str(tmp_path / "hf"))
    for path in (tmp_path / "in.parquet", tmp_path / "hf"):
        (row,) = iter_rows(path)
        assert row.data["response"] == "r"


def test_missing_or_unsupported_input_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        list(iter_rows(tmp_path / "nope.jsonl"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UsageError, match="unsupported"):
        list(iter_rows(tmp_path / "x.txt"))


def test_field_names_are_detected_or_given():
    assert FieldMap().resolve(["problem", "response", "gt_answer"]) == {
        "id": None,
        "question": "problem",
        "completion": "response",
        "answer": "gt_answer",
    }
    assert FieldMap(question="q").resolve(["q", "output"])["question"] == "q"
    with pytest.raises(UsageError, match="'nope'"):
        FieldMap(question="nope").resolve(["q"])


def test_stage_output_resumes_after_a_torn_line(tmp_path):
    with StageOutput(tmp_path) as out:
        out.add(Reject(id="a", reason="r"))  # any record with an id will do
        out.reject("b", "bad")
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write('{"id": "c", "reas')  # killed mid-write
    with StageOutput(tmp_path) as out:
        assert out.done("a") and out.done("b") and not out.done("c")
        out.add(Reject(id="c", reason="r"))
    assert [r["id"] for r in read_jsonl(tmp_path / "records.jsonl")] == ["a", "c"]


def test_atomic_writes(tmp_path):
    write_json_atomic(tmp_path / "m.json", {"x": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1}
    assert write_jsonl_atomic(tmp_path / "r.jsonl", [{"a": 1}, Reject(id="x", reason="y")]) == 2
    assert read_jsonl(tmp_path / "r.jsonl")[1] == {"id": "x", "reason": "y", "detail": ""}
    assert not list(tmp_path.glob(".*tmp"))
