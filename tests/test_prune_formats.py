"""``leancot prune`` on the files users of this field hold: one real-shaped file per format."""

from __future__ import annotations

import json

import pytest

from leancot.io import read_jsonl
from leancot.prune.config import PruneConfig
from leancot.prune.stage import run

QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"
THINK = "Okay, so Tom has 3 apples. Hmm, let me think. He buys 4 more, so 3 + 4 = 7.\nWait, let me double-check: 3 + 4 = 7. Yes."
FINAL = "Tom has 3 + 4 = 7 apples. The answer is \\boxed{7}."
R1 = f"<think>\n{THINK}\n</think>\n\n{FINAL}"
STRATOS = f"<|begin_of_thought|>\n\n{THINK}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n{FINAL}\n\n<|end_of_solution|>"

ROWS = {
    "flat": {"id": "a", "question": QUESTION, "completion": R1, "gold_answer": "7"},
    "messages": {
        "id": "a",
        "messages": [
            {"role": "system", "content": "You are a careful solver."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": R1},
        ],
    },
    "sharegpt": {"id": "a", "conversations": [{"from": "human", "value": QUESTION}, {"from": "gpt", "value": R1}]},
    "stratos": {
        "system": "Your role as an assistant involves thoroughly exploring questions ...",
        "conversations": [{"from": "user", "value": QUESTION}, {"from": "assistant", "value": STRATOS}],
    },
    "alpaca": {"instruction": QUESTION, "input": "", "output": R1},
}


def write(tmp_path, rows, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ROWS)
def test_each_format_is_read_pruned_and_named_in_the_manifest(tmp_path, fmt):
    out = run(PruneConfig(input=write(tmp_path, [ROWS[fmt]]), out=tmp_path / "out"))
    (record,) = read_jsonl(out / "records.jsonl")
    assert record["question"] == QUESTION and record["answer"] == "7" and record["verified"]
    assert record["original"] == THINK  # the solution is not taken for reasoning, whatever the markers
    assert json.loads((out / "manifest.json").read_text())["format"] == fmt


def test_a_nested_field_path_names_the_question(tmp_path):
    row = {"id": "a", "chat": {"turns": [{"text": QUESTION}, {"text": R1}]}}
    out = run(
        PruneConfig(
            input=write(tmp_path, [row]), out=tmp_path / "out", question_field="chat.turns.0.text", completion_field="chat.turns.-1.text"
        )
    )
    assert read_jsonl(out / "records.jsonl")[0]["question"] == QUESTION


def test_a_field_that_is_not_text_is_a_reject_not_python_text(tmp_path):
    rows = [ROWS["flat"], {"id": "b", "question": ["not", "text"], "completion": R1}]
    out = run(PruneConfig(input=write(tmp_path, rows), out=tmp_path / "out"))
    (reject,) = read_jsonl(out / "rejects.jsonl")
    assert reject["id"] == "b" and reject["reason"] == "not_a_string"


def test_chat_defects_are_counted_rejects_and_the_account_adds_up(tmp_path):
    good = ROWS["messages"]
    rows = [
        good,
        {"id": "no-answer", "messages": [{"role": "user", "content": QUESTION}]},
        {
            "id": "two-answers",
            "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": R1}, {"role": "assistant", "content": R1}],
        },
        {"id": "assistant-first", "messages": [{"role": "assistant", "content": R1}, {"role": "user", "content": QUESTION}]},
        {"id": "empty", "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ""}]},
    ]
    out = run(PruneConfig(input=write(tmp_path, rows), out=tmp_path / "out"))
    rejects = {r["id"]: r["reason"] for r in read_jsonl(out / "rejects.jsonl")}
    assert len(read_jsonl(out / "records.jsonl")) + len(rejects) == len(rows)
    assert set(rejects) == {"no-answer", "two-answers", "assistant-first", "empty"}


def test_rows_without_a_delimiter_are_counted(tmp_path):
    rows = [ROWS["flat"], {"id": "b", "question": QUESTION, "completion": f"{THINK}\nThe answer is \\boxed{{7}}."}]
    out = run(PruneConfig(input=write(tmp_path, rows), out=tmp_path / "out"))
    assert json.loads((out / "manifest.json").read_text())["rows_without_delimiter"] == 1


def test_the_same_traces_in_lf_crlf_and_bom_files_give_identical_records(tmp_path):
    row = ROWS["flat"]
    crlf_row = {k: v.replace("\n", "\r\n") for k, v in row.items()}  # a file written on Windows: CRLF inside the texts too
    lf = (json.dumps(row) + "\n").encode()
    variants = {"lf": lf, "crlf": (json.dumps(crlf_row) + "\r\n").encode(), "bom": b"\xef\xbb\xbf" + lf}
    got = {}
    for name, raw in variants.items():
        (tmp_path / f"{name}.jsonl").write_bytes(raw)
        out = run(PruneConfig(input=tmp_path / f"{name}.jsonl", out=tmp_path / name))
        got[name] = (out / "records.jsonl").read_bytes()
    assert got["lf"] == got["crlf"] == got["bom"]


def test_a_trace_over_the_token_limit_is_rejected_before_pruning(tmp_path):
    out = run(
        PruneConfig(
            input=write(tmp_path, [ROWS["flat"], dict(ROWS["flat"], id="b", completion=R1 * 1)]),
            out=tmp_path / "out",
            max_reasoning_tokens=10000,
        )
    )
    assert len(read_jsonl(out / "records.jsonl")) == 2
    from leancot.errors import StageFailed

    with pytest.raises(StageFailed, match="too_long 1"):
        run(PruneConfig(input=write(tmp_path, [ROWS["flat"]], "one.jsonl"), out=tmp_path / "short", max_reasoning_tokens=5))
