"""The lab's arms: names parsed into students, a pruner comparison run end to end at micro size."""

from __future__ import annotations

import json

import pytest

from leancot.errors import UsageError
from leancot.lab.arms import Arm, parse_arm, pruners_of, resolve_arms
from leancot.lab.run import ARMS, LabConfig, run
from leancot.prune import registry

PRUNERS = {"heuristic": None, "first-answer": None, "llm": None}
MICRO = {"train_problems": 24, "test_problems": 6, "layers": 1, "hidden": 32, "epochs": 1.0, "batch_size": 8}


def test_arm_names_parse_into_data_and_policy():
    parse = lambda spec: parse_arm(spec, lsp=0.5, pruners=PRUNERS)  # noqa: E731
    assert parse("verbose") == Arm("verbose", "verbose", "lsp", 1.0)
    assert parse("pruned") == Arm("pruned", "heuristic", "lsp", 1.0)  # the historical name of the heuristic arm
    assert parse("lsp") == Arm("lsp", "verbose", "lsp-cot", 0.5)  # the historical lsp arm: lsp-cot at --lsp
    assert parse("first-answer") == Arm("first-answer", "first-answer")
    assert parse("lsp:0.50") == Arm("lsp:0.5", "verbose", "lsp", 0.5)
    assert parse(" lsp-cot:0.25 ") == Arm("lsp-cot:0.25", "verbose", "lsp-cot", 0.25)
    assert [parse(s).kind for s in ("verbose", "pruned", "lsp", "lsp:1")] == ["verbose", "pruner", "lsp", "verbose"]
    assert parse("lsp-cot:0.5").dirname == "lsp-cot-0.5"


def test_the_default_arms_are_todays_three():
    arms, skipped = resolve_arms(list(LabConfig().arms), lsp=0.5)
    assert [a.name for a in arms] == list(ARMS) and not skipped
    for arm in arms:
        assert (arm.policy, arm.lsp) == (ARMS[arm.name]["policy"], ARMS[arm.name]["lsp"] if arm.name != "lsp" else 0.5)
    assert pruners_of(arms) == ["heuristic"]
    assert pruners_of([Arm("verbose", "verbose")]) == ["heuristic"]  # the verified set, as before pruner arms


def test_perplexity_is_skipped_with_a_reason_until_it_is_registered():
    reason = parse_arm("perplexity", lsp=0.5, pruners=PRUNERS)
    assert isinstance(reason, str) and "not registered" in reason and "heuristic" in reason
    assert parse_arm("perplexity", lsp=0.5, pruners={**PRUNERS, "perplexity": None}) == Arm("perplexity", "perplexity")


@pytest.mark.parametrize("spec, message", [("nope", "unknown arm 'nope'"), ("llm", "teacher endpoint"), ("lsp:1.5", "(0, 1]"),
                                           ("lsp-cot:half", "must be a number")])  # fmt: skip
def test_bad_arms_are_usage_errors(spec, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("]", r"\]")):
        parse_arm(spec, lsp=0.5, pruners=PRUNERS)


def test_resolve_drops_duplicates_and_needs_an_arm(monkeypatch):
    monkeypatch.delitem(registry.PRUNERS, "perplexity", raising=False)
    arms, skipped = resolve_arms(["verbose", "lsp:0.5", "lsp:0.50", "perplexity"], lsp=0.5)
    assert [a.name for a in arms] == ["verbose", "lsp:0.5"] and list(skipped) == ["perplexity"]
    with pytest.raises(UsageError, match="no arm left"):
        resolve_arms(["perplexity"], lsp=0.5)
    assert LabConfig(arms="verbose, first-answer").arms == ["verbose", "first-answer"]


@pytest.fixture(scope="module")
def pruner_lab(tmp_path_factory):
    """Every kind of arm, the perplexity pruner's included (scored by the lab's own verbose-trained scorer)."""
    out = tmp_path_factory.mktemp("lab-arms")
    arms = ["verbose", "heuristic", "first-answer", "perplexity", "lsp:0.5", "lsp-cot:0.5"]
    summary = json.loads(run(LabConfig(out=out, seeds=[0], workers=1, max_new_tokens=32, arms=arms, **MICRO)).read_text())
    return out, summary, arms


def test_pruner_arms_train_on_the_same_problems(pruner_lab):
    out, summary, arms = pruner_lab
    assert list(summary["arms"]) == arms and summary["baseline"] == "verbose" and not summary["skipped_arms"]
    for method, stem, prune_dir in (("heuristic", "pruned", "prune"), ("first-answer", "first-answer", "prune-first-answer"),
                                    ("perplexity", "perplexity", "prune-perplexity")):  # fmt: skip
        assert (out / prune_dir / "records.jsonl").is_file()
        assert json.loads((out / prune_dir / "manifest.json").read_text())["config"]["method"] == method
        assert summary["data"]["pruners"][method]["verified"] >= summary["data"]["trained_on"]
        assert summary["data"]["files"][method] == str(out / "data" / f"{stem}.jsonl")
    ids = {f: [json.loads(line)["id"] for line in (out / "data" / f"{f}.jsonl").read_text().splitlines()]
           for f in ("verbose", "pruned", "first-answer", "perplexity")}  # fmt: skip
    assert len({tuple(v) for v in ids.values()}) == 1 and len(ids["verbose"]) == summary["data"]["trained_on"]
    for arm in ("verbose", "heuristic", "first-answer", "perplexity", "lsp-0.5", "lsp-cot-0.5"):
        records = (out / "seed0" / arm / "eval" / "records.jsonl").read_text().splitlines()
        assert len(records) == MICRO["test_problems"]
    train = {a: json.loads((out / "seed0" / a / "train" / "manifest.json").read_text())["config"] for a in ("lsp-0.5", "lsp-cot-0.5")}
    scorer = json.loads((out / "prune-perplexity" / "manifest.json").read_text())["config"]["perplexity"]["scorer"]
    assert scorer == str(out / "scorer" / "train" / "model")  # a student of the lab's shape, trained on every verbose trace
    assert (out / "scorer" / "verbose.jsonl").read_text().count("\n") == MICRO["train_problems"]
    assert (train["lsp-0.5"]["policy"], train["lsp-0.5"]["lsp"]) == ("lsp", 0.5)
    assert (train["lsp-cot-0.5"]["policy"], train["lsp-cot-0.5"]["lsp"]) == ("lsp-cot", 0.5)


def test_every_arm_is_compared_with_verbose_in_one_table_and_plot(pruner_lab):
    out, summary, arms = pruner_lab
    assert set(summary["vs_baseline"]) == set(arms) - {"verbose"}
    for c in summary["vs_baseline"].values():
        lo, hi = c["accuracy_diff_ci95"]
        assert lo <= c["accuracy_diff"] + 1e-9 or hi >= c["accuracy_diff"] - 1e-9
        assert c["problems"] == MICRO["test_problems"] and c["train_time_ratio"] > 0
    assert summary["vs_baseline"]["lsp:0.5"]["train_token_ratio"] < 1.0
    assert "pruned_vs_verbose" not in summary  # no arm of that name here
    assert {"first-answer accuracy >= verbose", "lsp-cot:0.5 training time <= 55% of verbose"} <= set(summary["targets"])
    table = (out / "lab_table.md").read_text()
    assert all(f"| {arm} |" in table for arm in arms) and "accuracy − verbose (paired 95% CI)" in table
    assert (out / "lab_arms.png").read_bytes()[:4] == b"\x89PNG" and summary["plot"] == str(out / "lab_arms.png")
