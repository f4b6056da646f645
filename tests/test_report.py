"""``leancot report``: run directories in, a self-contained report.html and report.md out.

The run directories are small hand-written fixtures (tests/report_fixtures.py) shaped like the
prune, train and eval stages' outputs, including partial and older ones.
"""

import json
import re

import pytest
import typer
from report_fixtures import EVIL, make_eval, make_prune, make_sweep, make_train
from typer.testing import CliRunner

from leancot.report.collect import collect, find_runs, lsp_series
from leancot.report.command import register
from leancot.report.config import ReportConfig
from leancot.report.html import script_json
from leancot.report.plots import pareto_front, series_labels
from leancot.report.stage import run
from leancot.report.tables import answer_position_table, sparkline

runner = CliRunner()


def cli():
    app = typer.Typer()
    register(app)

    @app.command()
    def _other() -> None:  # a second command, so typer keeps "report" as a subcommand name
        pass

    return app


def viewer_data(html: str) -> list[dict]:
    block = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    assert block, "no trace data block"
    return json.loads(block.group(1))


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory, smollm2_tokenizer_dir):  # the skill plots count tokens with it
    root = tmp_path_factory.mktemp("sweep")
    dirs = make_sweep(root)
    path = run(ReportConfig(runs=dirs, out=root / "report"))
    return root, path, path.read_text(encoding="utf-8")


def test_report_holds_every_table_and_plot(sweep_report):
    root, path, html = sweep_report
    for table in ("runs", "eval", "budget", "compute", "prune", "skills-", "answer-position"):
        assert f'id="table-{table}' in html
    # pareto, budget curves, LSP curve, answer position, loss curves, token capture, token shift: all inline, nothing fetched
    for fig in ("pareto", "budget-gsm8k", "lsp", "answer-position-", "loss", "capture-", "shift-"):
        assert f'id="fig-{fig}' in html
    assert html.count('src="data:image/png;base64,') == 7
    assert not re.search(r'(src|href)="(https?:)?//', html)
    md = (root / "report" / "report.md").read_text()
    assert "## Training compute" in md and "| lsp0.5/train | 0.5 | 100 | 25,000 |" in md
    assert "| lsp0.5/eval | gsm8k | 10 | 1 | 70.0% | 420.0 |" in md
    # budget curves computed from the records of summaries that predate them: every answer is 420 tokens long,
    # the longest, so 0% within 256 and 70% within 420; efficiency (0 + 0.7) / 2
    assert "| lsp0.5/eval | gsm8k | 0.0% | – | 70.0% (≤ 420) | 0.350 |" in md


def test_eval_runs_are_linked_to_the_train_run_of_their_model(tmp_path):
    dirs = make_sweep(tmp_path)
    coll = collect(dirs, max_records=10)
    assert {e.name: e.train for e in coll.eval} == {
        "lsp0.25/eval": "lsp0.25/train",
        "lsp0.5/eval": "lsp0.5/train",
        "lsp1/eval": "lsp1/train",
    }
    assert sorted(t.lsp for t in coll.train) == [0.25, 0.5, 1.0]


def test_model_text_is_escaped_and_the_viewer_data_round_trips(sweep_report):
    _, _, html = sweep_report
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    records = viewer_data(html)
    evil = next(r for r in records if r["id"] == "evil-3")
    assert EVIL in evil["question"] and EVIL in evil["steps"][0][3]


def test_script_json_cannot_close_its_block():
    tricky = {"a": "</script><script>alert(1)</script>", "b": "<!-- x", "c": "a & b", "d": "line\u2028sep"}
    text = script_json(tricky)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == tricky


def test_partial_and_old_runs_are_tolerated(tmp_path):
    make_prune(tmp_path / "prune", manifest=False)  # older run: no manifest
    (tmp_path / "train" / "model").mkdir(parents=True)  # interrupted training: no metrics.json
    (tmp_path / "train" / "manifest.json").write_text(json.dumps({"stage": "train", "status": "running", "config": {"lsp": 0.5}}))
    make_eval(tmp_path / "eval", model="somewhere/else", accuracy=0.6, mean_tokens=100.0, summary=False)  # no summary.json yet
    with open(tmp_path / "eval" / "records.jsonl", "a") as f:
        f.write('{"benchmark": "gsm8k", "problem_id": "torn')  # the torn last line of a running eval
    path = run(ReportConfig(runs=[tmp_path]))
    html = path.read_text()
    assert path == tmp_path / "report.html"  # default --out: the first run dir
    coll = collect([tmp_path])
    assert [r.stage for r in coll.runs] == ["prune", "train", "eval"]
    assert coll.eval[0].benchmarks["gsm8k"]["accuracy"] == pytest.approx(0.6)
    assert coll.eval[0].train == coll.train[0].name  # the one train dir beside it
    assert any("unreadable line" in w for w in coll.warnings)
    assert "running" in html and 'id="fig-pareto"' in html and 'id="fig-lsp"' not in html
    assert "needs train runs that differ in their lead-span proportion (lsp) alone" in html


def test_a_run_with_missing_fields_still_renders(tmp_path):
    (tmp_path / "p").mkdir()
    odd = {"id": 7, "question": "q", "steps": [{"text": "a", "skill": "computation", "action": "keep"}], "tokens_before": float("nan")}
    (tmp_path / "p" / "records.jsonl").write_text(json.dumps(odd) + "\n")  # no index, NaN tokens, no pruned text
    make_train(tmp_path / "t", lsp=1.0, wall=5.0, loss=[])
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    for key in ("flops", "peak_memory_bytes", "loss_curve", "tokens_per_second"):
        del metrics[key]
    (tmp_path / "t" / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "records.jsonl").write_text(json.dumps({"benchmark": "aime24", "problem_id": "1", "correct": True}) + "\n")
    html = run(ReportConfig(runs=[tmp_path / "t", tmp_path / "e", tmp_path / "p"], out=tmp_path / "r")).read_text()
    assert 'id="table-compute"' in html and "aime24" in html
    assert viewer_data(html)[0]["steps"] == [[0, "computation", "keep", "a", None]]


def test_nested_dirs_get_unique_names_and_the_viewer_is_capped(tmp_path):
    make_prune(tmp_path / "a" / "prune")
    make_prune(tmp_path / "b" / "prune")
    coll = collect([tmp_path / "a", tmp_path / "b"], max_records=2)
    assert [p.name for p in coll.prune] == ["a/prune", "b/prune"]
    assert all(len(p.viewer) == 2 for p in coll.prune)
    assert any("first 2 of 3 records" in w for w in coll.warnings)


def test_find_runs_walks_two_levels_and_no_further(tmp_path):
    make_train(tmp_path / "x" / "y" / "train", lsp=1.0, wall=1.0)
    make_train(tmp_path / "deep" / "x" / "y" / "train", lsp=1.0, wall=1.0)
    assert [p for p, _ in find_runs(tmp_path / "x")] == [tmp_path / "x" / "y" / "train"]
    assert find_runs(tmp_path / "deep") == []


def test_pareto_front_keeps_only_undominated_points():
    pts = [(300, 0.5), (420, 0.7), (500, 0.6), (800, 0.8), (800, 0.75), (250, 0.4)]
    assert pareto_front(pts) == [(250, 0.4), (300, 0.5), (420, 0.7), (800, 0.8)]


def test_cli_writes_the_report(tmp_path):
    make_prune(tmp_path / "p")
    result = runner.invoke(cli(), ["report", str(tmp_path / "p"), "--out", str(tmp_path / "out"), "--title", "My <b>run</b>"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "report.md").exists()
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<title>My &lt;b&gt;run&lt;/b&gt;</title>" in html


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p, lambda p: (p / "f.txt", (p / "f.txt").write_text("x"))[0]],
                         ids=["missing", "empty-dir", "a-file"])  # fmt: skip
def test_unknown_dir_is_a_one_line_error_exit_2(tmp_path, make):
    target = make(tmp_path)
    result = runner.invoke(cli(), ["report", str(target)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert str(target.name) in result.output


def _with_inputs(train_dir, data_sha: str, **config) -> None:
    """Give a fixture train run the manifest's input hashes (the training data) and config values."""
    path = train_dir / "manifest.json"
    man = json.loads(path.read_text())
    man["inputs"] = {str(train_dir.parent / "data.jsonl"): data_sha}
    man["config"].update(config)
    path.write_text(json.dumps(man))


def lab_like(root):
    """The lab's three students: verbose (lsp 1.0), pruned (lsp 1.0, other data), lsp-cot 0.5 (verbose data)."""
    for name, lsp, policy, sha, acc in (("verbose", 1.0, "lsp", "aaa", 0.2), ("pruned", 1.0, "lsp", "bbb", 0.5),
                                        ("lsp", 0.5, "lsp-cot", "aaa", 0.1)):  # fmt: skip
        make_train(root / name / "train", lsp=lsp, wall=100 * lsp)
        _with_inputs(root / name / "train", sha, policy=policy)
        make_eval(root / name / "eval", model=str(root / name / "train" / "model"), accuracy=acc, mean_tokens=100.0)
    return root


def test_lsp_curve_joins_only_runs_that_differ_in_lsp_alone(tmp_path):
    coll = collect([lab_like(tmp_path)])
    series = lsp_series(coll)
    # the pruned student at 1.0 trained on other data: on no curve; verbose at 1.0 ends the lsp-cot curve
    assert [(policy, [t.name for t in runs]) for policy, runs in series] == [("lsp-cot", ["lsp/train", "verbose/train"])]
    html = run(ReportConfig(runs=[tmp_path], out=tmp_path / "r")).read_text()
    assert 'id="fig-lsp"' in html


def test_lsp_curves_split_by_seed_policy_and_data(tmp_path):
    for seed in (0, 1):
        for lsp, policy in ((1.0, "lsp"), (0.5, "lsp"), (0.5, "lsp-cot"), (0.25, "lsp-cot")):
            d = tmp_path / f"s{seed}-{policy}{lsp:g}" / "train"
            make_train(d, lsp=lsp, wall=10.0)
            _with_inputs(d, "same", policy=policy, seed=seed)
    make_train(tmp_path / "alone" / "train", lsp=0.5, wall=1.0)
    _with_inputs(tmp_path / "alone" / "train", "other-data", policy="lsp")  # nothing to join: no curve
    series = lsp_series(collect([tmp_path]))
    assert sorted((runs[0].setting("seed"), policy, [t.lsp for t in runs]) for policy, runs in series) == [
        (0, "lsp", [0.5, 1.0]),
        (0, "lsp-cot", [0.25, 0.5, 1.0]),
        (1, "lsp", [0.5, 1.0]),
        (1, "lsp-cot", [0.25, 0.5, 1.0]),
    ]
    labels = series_labels(series)
    assert len(set(labels)) == 4 and all("seed=" in lab and "policy=" in lab for lab in labels)
    assert series_labels(series[:1]) == [""]


def test_answer_position_is_shown_next_to_the_lsp_curve(sweep_report):
    root, _, html = sweep_report
    lsp_section = html[html.index('<h2 id="lsp">') : html.index('<h2 id="compute">')]
    assert 'id="fig-answer-position-' in lsp_section and 'id="table-answer-position"' in lsp_section
    coll = collect([root / "prune"])
    a = coll.prune[0].answer_positions
    # apples derives 7 at ~69% of its reasoning, evil-3 at its end, trains 120 by 60 * 2 = 120 before its check
    assert (a["traces"], a["derived"], a["never"]) == (3, 3, 0)
    assert a["positions"] == sorted(a["positions"]) and 0.6 < a["positions"][0] < 0.75
    row = answer_position_table(coll).rows[0]
    assert (
        row[0].endswith("prune")
        and row[1:3] == ["3", "3"]
        and row[5] == f"{a['within_first_half'] / 3:.0%} ({a['within_first_half']} of 3)"
    )
    md = (root / "report" / "report.md").read_text()
    assert "## Where the answer first appears" in md and f"| {row[0]} | 3 | 3 | {row[3]} |" in md


def test_answer_position_table_escapes_run_names(tmp_path):
    make_prune(tmp_path / EVIL.replace("/", "_")[:40])
    html = run(ReportConfig(runs=[tmp_path], out=tmp_path / "r")).read_text()
    table = html[html.index('id="table-answer-position"') :]
    assert "<script>window" not in table and "&lt;script&gt;window" in table


def test_sparkline_scales_to_the_tallest_bin():
    assert sparkline([0, 1, 2, 4]) == "·▃▅█"
    assert sparkline([0, 0]) == "–" and sparkline([]) == "–"
