"""``leancot stats DIR --answer-position``: where a trace set first derives its answer."""

import json

from typer.testing import CliRunner

from leancot import data
from leancot.cli import app
from leancot.prune.stats import answer_positions


def test_input_file_and_prune_output_agree(tmp_path):
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run

    out = run(PruneConfig(input=data.traces_path(), out=tmp_path / "p", limit=8, require_correct=False))
    from_dir = answer_positions(out).summary()
    from_file = answer_positions(data.traces_path(), limit=8).summary()
    assert from_dir["traces"] == 8 and from_dir["derived"] >= 7
    assert from_dir["median"] == from_file["median"] and sum(from_dir["histogram"]) == from_dir["derived"]


def test_cli_prints_the_distribution():
    result = CliRunner().invoke(app, ["stats", str(data.traces_path()), "--answer-position", "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["traces"] == 40 and 0.3 < s["median"] < 0.9 and s["q1"] <= s["median"] <= s["q3"]
    text = CliRunner().invoke(app, ["stats", str(data.traces_path()), "--answer-position"])
    assert text.exit_code == 0 and "median" in text.output


def test_missing_source_is_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["stats", str(tmp_path / "nope"), "--answer-position"])
    assert result.exit_code == 2
