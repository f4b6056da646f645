"""The eval stage end to end: records, summary, resume and bad input.

Most tests use a scripted backend (registered by name, like the real ones) so that what is
right, wrong or cut off is known; one runs the real transformers backend on a tiny model.
"""

import json
from collections import Counter

import pytest
import typer
from typer.testing import CliRunner

from leancot.errors import UsageError
from leancot.evaluate import backends
from leancot.evaluate.backends.base import Backend, Generation, Prompt
from leancot.evaluate.command import register
from leancot.evaluate.config import EvalConfig
from leancot.evaluate.stage import run


class ScriptedBackend(Backend):
    """Answers the gold for even problems and 0 for odd ones; problem 4 runs out of tokens
    (with the right answer in its text, which must not count). ``fail_after`` batches, it dies."""

    name = "scripted"
    calls: list[str] = []
    fail_after: int | None = None

    def __init__(self, options):
        self.batch_size = options.batch_size

    def prepare(self, messages, seed=0):
        return Prompt(messages=messages, text=messages[-1]["content"], seed=seed)

    def generate(self, prompts, sampling):
        from leancot import data

        golds = {p.question.strip(): p for p in data.load("gsm8k", limit=20)}
        for start in range(0, len(prompts), self.batch_size):
            if self.fail_after is not None and start // self.batch_size >= self.fail_after:
                raise RuntimeError("killed")
            batch = []
            for i in range(start, min(start + self.batch_size, len(prompts))):
                problem = golds[prompts[i].messages[-1]["content"].split("\nPlease reason")[0]]
                idx = int(problem.id.split("-")[-1])
                type(self).calls.append(f"{problem.id}/{prompts[i].seed}")
                answer = problem.gold_answer if idx % 2 == 0 else "0"
                text = f"Some steps.\nThe answer is \\boxed{{{answer}}}."
                batch.append((i, Generation(text, "length" if idx == 4 else "stop", completion_tokens=7)))
            yield batch


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setitem(backends.BACKENDS, "scripted", f"{__name__}:ScriptedBackend")
    monkeypatch.setitem(backends.REQUIRES, "scripted", ("json", "none"))
    ScriptedBackend.calls = []
    ScriptedBackend.fail_after = None
    return ScriptedBackend


def _config(model, out, **kw):
    return EvalConfig(model=str(model), benchmarks=["gsm8k"], out=out, backend="scripted", batch_size=2, **kw)


def _records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_records_grade_and_flag_truncation(scripted, tiny_model_dir, tmp_path):
    out = run(_config(tiny_model_dir, tmp_path / "ev", limit=6))
    recs = {r["problem_id"]: r for r in _records(out)}
    assert sorted(recs) == [f"gsm8k-{i}" for i in range(6)]
    assert [recs[f"gsm8k-{i}"]["correct"] for i in range(6)] == [True, False, True, False, False, False]
    cut = recs["gsm8k-4"]
    assert cut["finish_reason"] == "length" and cut["truncated"] and cut["answer"] == cut["gold"]  # right answer, cut off: wrong
    assert recs["gsm8k-0"]["total_tokens"] > recs["gsm8k-0"]["answer_tokens"] == 0  # no think tags: all of it is reasoning
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]["gsm8k"]
    assert summary["accuracy"] == pytest.approx(2 / 6) and summary["truncation_rate"] == pytest.approx(1 / 6)
    assert summary["generated_tokens"] == 42 and summary["tokens_per_s"] > 0


def test_an_interrupted_run_resumes_without_losing_or_repeating(scripted, tiny_model_dir, tmp_path):
    scripted.fail_after = 2
    with pytest.raises(RuntimeError):
        run(_config(tiny_model_dir, tmp_path / "ev", limit=7))
    assert len(_records(tmp_path / "ev")) == 4  # two finished batches were written before the crash
    scripted.fail_after = None
    scripted.calls = []
    run(_config(tiny_model_dir, tmp_path / "ev", limit=7))
    assert len(scripted.calls) == 3  # only what was missing
    keys = Counter((r["benchmark"], r["problem_id"], r["sample"]) for r in _records(tmp_path / "ev"))
    assert len(keys) == 7 and set(keys.values()) == {1}
    scripted.calls = []
    run(_config(tiny_model_dir, tmp_path / "ev", limit=7))  # nothing left: the backend is not even started
    assert scripted.calls == []


def test_a_torn_last_line_is_redone(scripted, tiny_model_dir, tmp_path):
    out = run(_config(tiny_model_dir, tmp_path / "ev", limit=3))
    text = (out / "records.jsonl").read_text()
    (out / "records.jsonl").write_text(text[: len(text) - 20])  # killed in the middle of writing the last record
    scripted.calls = []
    run(_config(tiny_model_dir, out, limit=3))
    assert len(scripted.calls) == 1 and len(_records(out)) == 3


def test_samples_extend_a_run_and_give_pass_at_k(scripted, tiny_model_dir, tmp_path):
    run(_config(tiny_model_dir, tmp_path / "ev", limit=2, n=2, temperature=0.7))
    run(_config(tiny_model_dir, tmp_path / "ev", limit=3, n=4, temperature=0.7))  # more problems and more samples
    recs = _records(tmp_path / "ev")
    assert len(recs) == 12 and len(scripted.calls) == 12
    assert len(set(scripted.calls)) == 12  # every (problem, sample) has its own seed
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())["benchmarks"]["gsm8k"]
    assert summary["pass@4"] == pytest.approx(2 / 3) and summary["mean@4"] == pytest.approx(2 / 3)


def test_changed_decoding_over_the_same_dir_is_refused(scripted, tiny_model_dir, tmp_path):
    run(_config(tiny_model_dir, tmp_path / "ev", limit=2))
    with pytest.raises(UsageError, match="another config"):
        run(_config(tiny_model_dir, tmp_path / "ev", limit=2, max_new_tokens=99))
    run(_config(tiny_model_dir, tmp_path / "ev", limit=2, max_new_tokens=99, overwrite=True))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli():
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root():  # a group, as in the real CLI: `eval` and `compare` are subcommands
        pass

    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


def test_eval_and_compare_with_the_hf_backend_on_a_tiny_model(cli, tiny_model_dir, tmp_path):
    for name, tokens in (("a", 4), ("b", 6)):
        res = cli(
            "eval",
            "--model",
            tiny_model_dir,
            "--benchmarks",
            "gsm8k,amc23",
            "--limit",
            2,
            "--max-new-tokens",
            tokens,
            "--threads",
            1,
            "--out",
            tmp_path / name,
        )
        assert res.exit_code == 0, res.output
    recs = _records(tmp_path / "a")
    assert len(recs) == 4 and all(r["finish_reason"] == "length" and not r["correct"] for r in recs)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert set(summary["benchmarks"]) == {"gsm8k", "amc23"} and summary["benchmarks"]["gsm8k"]["tokens_per_s"] > 0
    res = cli("compare", tmp_path / "a", tmp_path / "b", "--json")
    assert res.exit_code == 0
    pair = json.loads(res.output)["benchmarks"]["gsm8k"]["pairs"][str(tmp_path / "b")]
    assert pair["common_problems"] == 2 and pair["mcnemar_p"] == 1.0


def test_eval_reads_an_excel_csv_with_a_bom_and_a_query_column(cli, tiny_model_dir, tmp_path):
    """The problem files users have: Excel's CSV (BOM, CRLF) and a JSONL whose question column is ``query``."""
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(b'\xef\xbb\xbfquestion,answer\r\n"What is 2 + 3?",5\r\n"What is 4 + 4?",8\r\n')
    query = tmp_path / "query.jsonl"
    query.write_text('{"query": "What is 2 + 3?", "label": "5"}\n{"query": "What is 4 + 4?", "label": "8"}\n', encoding="utf-8")
    for name, bench, extra in (("csv", csv_file, []), ("query", query, ["--answer-field", "label"])):
        res = cli("eval", "--model", tiny_model_dir, "--benchmarks", bench, "--max-new-tokens", 2, "--threads", 1,
                  "--out", tmp_path / name, *extra)  # fmt: skip
        assert res.exit_code == 0, res.output
        recs = _records(tmp_path / name)
        assert [r["gold"] for r in recs] == ["5", "8"], recs
    res = cli("eval", "--model", tiny_model_dir, "--benchmarks", query, "--answer-field", "nope", "--out", tmp_path / "bad")
    assert res.exit_code == 2 and "nope" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--benchmarks", "gsm9k"], "unknown benchmark 'gsm9k'"),
        (["--model", "/no/such/model"], "not found"),
        (["--limit", "0"], "limit"),
        (["--n", "4"], "--temperature"),
        (["--backend", "tgi"], "unknown backend 'tgi'"),
        (["--benchmarks", ""], "no benchmark"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tiny_model_dir, tmp_path, args, message):
    opts = {"--model": str(tiny_model_dir), "--benchmarks": "gsm8k", "--out": str(tmp_path / "ev"), "--max-new-tokens": "4"}
    opts.update(dict(zip(args[::2], args[1::2])))
    res = cli("eval", *[x for kv in opts.items() for x in kv])
    assert res.exit_code == 2
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "ev").exists()  # nothing half-written


def test_a_backend_whose_extra_is_missing_names_the_install(cli, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(backends.REQUIRES, "vllm", ("leancot_no_such_module", "vllm"))  # as if vLLM were not installed
    with pytest.raises(UsageError, match=r"pip install 'leancot\[vllm\]'"):
        backends.backend_class("vllm")
    res = cli("eval", "--model", tiny_model_dir, "--backend", "vllm", "--out", tmp_path / "ev")
    assert res.exit_code == 2 and "pip install" in res.output and not (tmp_path / "ev").exists()


def test_compare_needs_two_eval_dirs(cli, tmp_path):
    assert cli("compare", tmp_path).exit_code == 2
    assert "no records.jsonl" in cli("compare", tmp_path, tmp_path).output
