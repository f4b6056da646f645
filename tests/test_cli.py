"""The CLI: bad usage is a one-line error and exit code 2, never a traceback."""

import json

from typer.testing import CliRunner

from leancot.cli import app

runner = CliRunner()


def test_missing_input_file_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["prune", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "input not found" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unknown_flag_and_bad_choice_exit_2(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"question": "q", "completion": "c"}) + "\n")
    assert runner.invoke(app, ["prune", str(path), "--out", "o", "--no-such-flag"]).exit_code == 2
    bad = runner.invoke(app, ["prune", str(path), "--out", str(tmp_path / "o"), "--on-fail", "maybe"])
    assert bad.exit_code == 2 and "on-fail" in bad.output.replace("_", "-")


def test_unknown_field_name_exits_2(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"question": "q", "completion": "c"}) + "\n")
    result = runner.invoke(app, ["prune", str(path), "--out", str(tmp_path / "o"), "--question-field", "prob"])
    assert result.exit_code == 2 and "'prob'" in result.output


def test_input_without_a_completion_column_exits_2(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "#### 3"}) + "\n")
    result = runner.invoke(app, ["prune", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no completion field" in result.output


def test_stats_of_a_missing_dir_exits_2(tmp_path):
    result = runner.invoke(app, ["stats", str(tmp_path)])
    assert result.exit_code == 2 and "not a prune output" in result.output


def test_error_text_is_printed_literally_not_as_markup():
    import typer

    from leancot.cli_utils import handle_errors
    from leancot.errors import UsageError

    tiny = typer.Typer()

    @tiny.command()
    @handle_errors
    def needs_vllm() -> None:
        raise UsageError("this needs vllm: pip install 'leancot[vllm]'")

    result = runner.invoke(tiny, [])
    assert result.exit_code == 2 and "pip install 'leancot[vllm]'" in result.output
