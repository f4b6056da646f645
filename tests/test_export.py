"""``leancot export``: every format read by its real consumer, round trips through ``leancot prune``,
LLaMA-Factory's ``dataset_info.json`` checked field by field, and bad usage as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leancot import data
from leancot.cli import app
from leancot.errors import StageFailed, UsageError
from leancot.export import ExportConfig, run
from leancot.export.rows import BOXED
from leancot.io import read_jsonl
from leancot.schema import EvalRecord, PrunedTrace, Trace

runner = CliRunner()
JSONL_FORMATS = ("messages", "prompt-completion", "sharegpt", "alpaca")


def write_stage(directory: Path, stage: str, records: list, config: dict | None = None, status: str = "complete") -> Path:
    """A stage output as the stage writes it: records.jsonl and a manifest naming the stage."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [r.model_dump_json() if hasattr(r, "model_dump_json") else json.dumps(r) for r in records]
    (directory / "records.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (directory / "rejects.jsonl").write_text("")
    manifest = {"stage": stage, "status": status, "config": config or {}, "counts": {"records": len(records)}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def pruned(i: int, *, verified: bool = True, answer: str | None = None) -> PrunedTrace:
    answer = answer or str(3 * i + 4)
    path = f"Tom has {i} boxes of 3 apples: {i} * 3 = {3 * i}.\nHe adds 4: {3 * i} + 4 = {answer}.\nThe answer is \\boxed{{{answer}}}"
    return PrunedTrace(
        id=f"p{i}", question=f"Tom has {i} boxes of 3 apples and 4 loose ones. How many apples?", gold_answer=answer,
        original="Okay, so " + path, pruned=path, steps=[], answer=answer, tokens_before=40, tokens_after=30, verified=verified,
        method="heuristic",
    )  # fmt: skip


@pytest.fixture(scope="module")
def real_prune(tmp_path_factory, smollm2_tokenizer_dir) -> Path:
    """The 40 bundled R1-Distill traces through the real prune stage (20 records)."""
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run as prune

    return prune(PruneConfig(input=data.traces_path(), out=tmp_path_factory.mktemp("real") / "prune"))


@pytest.fixture(scope="module")
def exports(real_prune, tmp_path_factory) -> dict[str, Path]:
    """Every format of the real prune output, at its default place."""
    return {
        fmt: run(ExportConfig(dir=real_prune, format=fmt)).out
        for fmt in ("messages", "prompt-completion", "sharegpt", "alpaca", "parquet", "hf-dataset")
    }


# --------------------------------------------------------------------------- the real consumers


def test_datasets_reads_every_export_with_every_id(real_prune, exports):
    import datasets

    ids = [r["id"] for r in read_jsonl(real_prune / "records.jsonl")]
    for fmt in JSONL_FORMATS:
        ds = datasets.load_dataset("json", data_files=str(exports[fmt]), split="train")
        assert ds["id"] == ids, fmt
    parquet = datasets.load_dataset("parquet", data_files=str(exports["parquet"]), split="train")
    saved = datasets.load_from_disk(str(exports["hf-dataset"]))
    for ds in (parquet, saved):
        assert ds["id"] == ids and ds.column_names == ["id", "messages"]
        assert [m["role"] for m in ds[0]["messages"]] == ["user", "assistant"]


def test_default_places_are_beside_the_stage_output(real_prune, exports):
    root = real_prune.parent / "export"
    assert exports["sharegpt"] == root / "prune-sharegpt.jsonl"
    assert exports["parquet"] == root / "prune.parquet" and exports["hf-dataset"] == root / "prune-dataset"
    assert set(json.loads((root / "dataset_info.json").read_text())) == {"prune-sharegpt", "prune-alpaca"}


@pytest.mark.parametrize("fmt", ["messages", "sharegpt", "alpaca"])
def test_prune_reads_an_export_back_to_the_same_questions_and_completions(real_prune, exports, fmt, tmp_path):
    """leancot prune's own reader (format detection, fields, the split at </think>) gets back what was written."""
    from leancot.io import iter_rows
    from leancot.prune.config import PruneConfig
    from leancot.prune.reader import TraceReader

    records = {r["id"]: r for r in read_jsonl(real_prune / "records.jsonl")}
    reader = TraceReader(PruneConfig(input=exports[fmt], out=tmp_path / "o"))
    traces = [reader.trace(row, reader.row_id(row)) for row in iter_rows(exports[fmt])]
    assert reader.format == fmt and len(traces) == len(records)
    for t in traces:
        r = records[t.id]
        assert t.question == r["question"].strip()
        assert t.completion == f"<think>\n{r['pruned'].strip()}\n</think>\n\n" + BOXED.format(r["answer"])
        assert t.reasoning == r["pruned"].strip() and t.answer == r["answer"]


def test_prune_runs_on_a_sharegpt_export(exports, tmp_path):
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run as prune

    out = prune(PruneConfig(input=exports["sharegpt"], out=tmp_path / "again"))
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"] == "sharegpt"
    assert m["counts"]["input"] == 20 and m["counts"]["records"] + m["counts"]["rejects"] == 20


def test_the_assistant_turn_is_the_text_leancot_train_trains_on(real_prune, exports):
    """A TRL or LLaMA-Factory run on the export sees the sequence ``leancot train`` builds from the record."""
    from leancot.train.data import THINK_CLOSE, THINK_OPEN, record_sections

    rows = read_jsonl(exports["messages"])
    for record, row in zip(read_jsonl(real_prune / "records.jsonl"), rows):
        s = record_sections(record)
        assert row["messages"][-1]["content"] == f"{THINK_OPEN}\n{s.reasoning}\n{THINK_CLOSE}\n\n{s.final}"
        # the question without surrounding blank space, as the evaluator's prompt has it (build_prompt strips it)
        assert row["messages"][:-1] == [{"role": "user", "content": s.messages[0]["content"].strip()}]


# --------------------------------------------------------------------------- LLaMA-Factory's dataset_info.json

# LLaMA-Factory data/README.md (hiyouga/LLaMA-Factory): the fields of a dataset description, and the columns
# each formatting reads (src/llamafactory/data/parser.py reads exactly these, and takes None for one left out
# of a "columns" or "tags" block it is given).
LF_ENTRY_FIELDS = {"hf_hub_url", "ms_hub_url", "script_url", "file_name", "formatting", "ranking", "subset", "split", "folder",
                   "num_samples", "columns", "tags"}  # fmt: skip
LF_COLUMNS = {
    "alpaca": {"prompt", "query", "response", "history", "system", "tools", "images", "chosen", "rejected", "kto_tag"},
    "sharegpt": {"messages", "system", "tools", "images", "chosen", "rejected", "kto_tag"},
}
LF_TAGS = {"role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag"}


def _check_llamafactory(info_path: Path, name: str, fmt: str, *, system: bool) -> None:
    entry = json.loads(info_path.read_text())[name]
    assert set(entry) <= LF_ENTRY_FIELDS
    assert entry["formatting"] == fmt and "ranking" not in entry  # supervised, not a preference set
    rows = read_jsonl(info_path.parent / entry["file_name"])  # file_name: relative to the dataset_dir
    columns = entry["columns"]
    assert set(columns) <= LF_COLUMNS[fmt]
    for field, column in columns.items():  # every named column is in every row, and holds what the field means
        assert all(column in row for row in rows), field
    assert ("system" in columns) == system
    if fmt == "alpaca":
        assert {"prompt", "query", "response"} <= set(columns)  # else LLaMA-Factory takes None for them
        assert all(isinstance(row[columns["prompt"]], str) and isinstance(row[columns["response"]], str) for row in rows)
        return
    tags = entry["tags"]
    assert set(tags) <= LF_TAGS and {"role_tag", "content_tag", "user_tag", "assistant_tag"} <= set(tags)
    for row in rows:  # the ShareGPT converter's rules: user (or observation) at odd turns, assistant at even, pairs
        turns = row[columns["messages"]]
        assert len(turns) % 2 == 0
        assert [t[tags["role_tag"]] for t in turns] == [tags["user_tag"], tags["assistant_tag"]] * (len(turns) // 2)
        assert all(isinstance(t[tags["content_tag"]], str) for t in turns)


def test_llamafactory_entries_match_its_documentation(exports):
    info = exports["sharegpt"].parent / "dataset_info.json"
    _check_llamafactory(info, "prune-sharegpt", "sharegpt", system=False)
    _check_llamafactory(info, "prune-alpaca", "alpaca", system=False)


@pytest.mark.parametrize("fmt", ["sharegpt", "alpaca"])
def test_a_system_prompt_gets_its_column_and_an_existing_dataset_info_keeps_its_entries(tmp_path, fmt):
    src = write_stage(tmp_path / "prune", "prune", [pruned(1), pruned(2)])
    info = tmp_path / "LLaMA-Factory" / "data" / "dataset_info.json"
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}))
    info.chmod(0o644)
    out = run(ExportConfig(dir=src, format=fmt, out=info.parent / "drp.jsonl", system_prompt="Think briefly.", dataset_name="drp"))
    assert out.dataset_info == info and out.dataset_name == "drp"
    assert set(json.loads(info.read_text())) == {"alpaca_en_demo", "drp"}
    assert info.stat().st_mode & 0o777 == 0o644  # the user's file keeps its mode
    _check_llamafactory(info, "drp", fmt, system=True)
    assert all(row["system"] == "Think briefly." for row in read_jsonl(out.out))


def test_a_dataset_info_that_is_not_json_is_left_alone(tmp_path):
    src = write_stage(tmp_path / "prune", "prune", [pruned(1)])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "dataset_info.json").write_text("{not json")
    with pytest.raises(UsageError, match="not a JSON object"):
        run(ExportConfig(dir=src, format="sharegpt", out=tmp_path / "out" / "x.jsonl"))
    assert (tmp_path / "out" / "dataset_info.json").read_text() == "{not json"


# --------------------------------------------------------------------------- options


def test_system_prompt_think_tags_and_answer_style(tmp_path):
    src = write_stage(tmp_path / "prune", "prune", [pruned(2)])
    row = read_jsonl(run(ExportConfig(dir=src, format="messages", out=tmp_path / "a.jsonl", system_prompt="Be brief.")).out)[0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"] and row["messages"][0]["content"] == "Be brief."
    reasoning = pruned(2).pruned
    assert row["messages"][2]["content"] == f"<think>\n{reasoning}\n</think>\n\nThe answer is \\boxed{{10}}"
    pc = read_jsonl(run(ExportConfig(dir=src, format="prompt-completion", out=tmp_path / "b.jsonl", system_prompt="Be brief.")).out)[0]
    assert pc["prompt"] == row["messages"][:2] and pc["completion"] == row["messages"][2:]
    custom = read_jsonl(
        run(ExportConfig(dir=src, format="messages", out=tmp_path / "c.jsonl", think_tags="<|begin_of_thought|>,<|end_of_thought|>")).out
    )
    assert (
        custom[0]["messages"][-1]["content"].startswith("<|begin_of_thought|>\n")
        and "\n<|end_of_thought|>\n\n" in custom[0]["messages"][-1]["content"]
    )
    bare = read_jsonl(run(ExportConfig(dir=src, format="alpaca", out=tmp_path / "d.jsonl", think_tags="none", answer_style="as-is")).out)
    assert bare[0]["output"] == f"{reasoning}\n\n10"


def test_bad_think_tags_are_refused():
    with pytest.raises(ValueError, match="OPEN,CLOSE"):
        ExportConfig(dir=".", format="messages", think_tags="<think>")


def test_unverified_records_are_skipped_and_counted(tmp_path):
    src = write_stage(tmp_path / "prune", "prune", [pruned(1), pruned(2, verified=False), pruned(3)])
    result = run(ExportConfig(dir=src, format="messages", out=tmp_path / "v.jsonl"))
    assert result.rows == 2 and result.skipped == {"not_verified": 1} and result.records == 3
    assert [r["id"] for r in read_jsonl(result.out)] == ["p1", "p3"]
    everything = run(ExportConfig(dir=src, format="messages", out=tmp_path / "all.jsonl", only_verified=False))
    assert everything.rows == 3 and everything.skipped == {}


def test_generate_records_export_their_reasoning_and_own_final_text(tmp_path):
    def trace(i: int, correct: bool | None) -> Trace:
        reasoning, final = f"{i} + {i} = {2 * i}.", f"So it is {2 * i}. The answer is \\boxed{{{2 * i}}}."
        return Trace(id=f"g{i}", question=f"What is {i} + {i}?", completion=f"<think>\n{reasoning}\n</think>\n\n{final}",
                     reasoning=reasoning, final=final, answer=str(2 * i), correct=correct)  # fmt: skip

    src = write_stage(tmp_path / "gen", "generate", [trace(1, True), trace(2, False), trace(3, None)])
    result = run(ExportConfig(dir=src, format="messages", out=tmp_path / "g.jsonl", answer_style="as-is"))
    assert result.rows == 1 and result.skipped == {"not_correct": 1, "ungraded": 1}
    assert read_jsonl(result.out)[0]["messages"][-1]["content"] == "<think>\n1 + 1 = 2.\n</think>\n\nSo it is 2. The answer is \\boxed{2}."


def test_eval_samples_export_with_their_benchmark_questions(tmp_path):
    problems = data.load("gsm8k", split="test", limit=3)
    p0, p1, p2 = problems

    def record(p, output: str, correct: bool) -> EvalRecord:
        return EvalRecord(benchmark="gsm8k", problem_id=p.id, output=output, answer=p.gold_answer, gold=p.gold_answer, correct=correct,
                          reasoning_tokens=5, answer_tokens=3, total_tokens=8)  # fmt: skip

    good = f"<think>\nLet me compute: it is {p0.gold_answer}.\n</think>\n\nThe answer is \\boxed{{{p0.gold_answer}}}."
    src = write_stage(tmp_path / "eval", "eval", [record(p0, good, True), record(p1, "<think>\nthen 4 + 4 is", False),
                                                  record(p2, good, False)], config={"benchmarks": ["gsm8k"], "split": "test"})  # fmt: skip
    result = run(ExportConfig(dir=src, format="sharegpt", out=tmp_path / "e.jsonl"))
    assert result.rows == 1 and result.skipped == {"not_correct": 1, "unclosed_think": 1}
    row = read_jsonl(result.out)[0]
    assert row["id"] == f"gsm8k/{p0.id}/0" and row["conversations"][0]["value"] == p0.question.strip()


# --------------------------------------------------------------------------- bad usage: one line, exit 2


def _one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    return result.output


def test_cli_export_prints_one_line_with_the_counts(tmp_path):
    src = write_stage(tmp_path / "prune", "prune", [pruned(1), pruned(2, verified=False)])
    out = _one_line(runner.invoke(app, ["export", str(src), "--format", "sharegpt"]), 0)
    assert "1 rows + 1 skipped (not_verified 1) = 2 prune records" in out and "dataset_info.json" in out
    assert (tmp_path / "export" / "prune-sharegpt.jsonl").exists()


def test_cli_bad_usage_is_one_line_and_exit_2(tmp_path):
    src = write_stage(tmp_path / "prune", "prune", [pruned(1)])
    train = write_stage(tmp_path / "train", "train", [])
    running = write_stage(tmp_path / "half", "prune", [pruned(1)], status="running")
    assert "input not found" in _one_line(runner.invoke(app, ["export", str(tmp_path / "nope"), "--format", "messages"]), 2)
    assert "train output, not a prune or generate or eval" in _one_line(
        runner.invoke(app, ["export", str(train), "--format", "messages"]), 2
    )
    assert "not finished" in _one_line(runner.invoke(app, ["export", str(running), "--format", "messages"]), 2)
    assert "inside" in _one_line(runner.invoke(app, ["export", str(src), "--format", "messages", "--out", str(src / "x.jsonl")]), 2)
    assert runner.invoke(app, ["export", str(src), "--format", "csv"]).exit_code == 2
    assert "--think-tags" in _one_line(runner.invoke(app, ["export", str(src), "--format", "messages", "--think-tags", "x"]), 2)
    assert not (tmp_path / "export").exists()


def test_nothing_to_export_exits_1_and_writes_nothing(tmp_path):
    src = write_stage(tmp_path / "prune", "prune", [pruned(1, verified=False)])
    with pytest.raises(StageFailed, match="all skipped.*--all"):
        run(ExportConfig(dir=src, format="messages", out=tmp_path / "x.jsonl"))
    assert not (tmp_path / "x.jsonl").exists()
    assert runner.invoke(app, ["export", str(src), "--format", "messages"]).exit_code == 1
