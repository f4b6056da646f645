"""The lab's arms: names parsed into students, a pruner comparison run end to end at micro size."""

from __future__ import annotations

import json

import pytest

from leancot.errors import UsageError
from leancot.lab.arms import Arm, checked, data_name, parse_arm, prune_dirname, prune_method, pruners_of, resolve_arms, training_sets
from leancot.lab.config import ARMS, LabConfig
from leancot.lab.stage import run
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
    assert parse("heuristic-unchecked") == Arm("heuristic-unchecked", "heuristic-unchecked")  # the ablation: no derivation check
    assert parse("first-answer-unchecked").kind == "pruner"


def test_self_sampling_and_mixture_arms_parse():
    parse = lambda spec: parse_arm(spec, lsp=0.5, pruners=PRUNERS)  # noqa: E731
    assert parse("self-shortest:8") == Arm("self-shortest:8", "self", samples=8)
    assert parse("self-shortest") == Arm("self-shortest:4", "self", samples=4)  # DEFAULT_SAMPLES
    assert parse("self-first-answer:2") == Arm("self-first-answer:2", "self", samples=2, then="first-answer")  # STOP/ECN
    assert parse("mix:heuristic:0.50") == Arm("mix:heuristic:0.5", "heuristic", weight=0.5)
    assert [parse(s).kind for s in ("self-shortest:2", "mix:first-answer:0.3")] == ["self", "mix"]
    assert parse("mix:heuristic:0.5").dirname == "mix-heuristic-0.5"
    for bad in ("self-shortest:0", "self-shortest:x", "mix:heuristic:1", "mix:heuristic", "mix:llm:0.5", "mix:nope:0.5"):
        with pytest.raises(UsageError, match="--arms"):
            parse(bad)


def test_a_self_sampling_arm_brings_the_verbose_student_it_starts_from_and_a_mixture_its_pruner():
    arms, _ = resolve_arms(["self-shortest:2", "mix:first-answer:0.5"], lsp=0.5)
    assert [a.name for a in arms] == ["verbose", "self-shortest:2", "mix:first-answer:0.5"]
    assert pruners_of(arms) == ["first-answer"]


def test_the_default_arms_are_todays_three():
    arms, skipped = resolve_arms(list(LabConfig().arms), lsp=0.5)
    assert [a.name for a in arms] == list(ARMS) and not skipped
    for arm in arms:
        assert (arm.policy, arm.lsp) == (ARMS[arm.name]["policy"], ARMS[arm.name]["lsp"] if arm.name != "lsp" else 0.5)
    assert pruners_of(arms) == ["heuristic"]
    assert pruners_of([Arm("verbose", "verbose")]) == ["heuristic"]  # the verified set, as before pruner arms


def test_an_unchecked_arm_prunes_apart_and_a_checked_pruner_gates_the_problems():
    unchecked = Arm("heuristic-unchecked", "heuristic-unchecked")
    # the checked heuristic still runs when only an unchecked arm prunes: it decides the problems
    assert pruners_of([Arm("verbose", "verbose"), unchecked]) == ["heuristic", "heuristic-unchecked"]
    assert pruners_of([Arm("first-answer", "first-answer"), unchecked]) == ["first-answer", "heuristic-unchecked"]
    assert (checked("heuristic"), checked("heuristic-unchecked")) == (True, False)
    assert prune_method("heuristic-unchecked") == "heuristic" and prune_method("first-answer") == "first-answer"
    assert prune_dirname("heuristic-unchecked") == "prune-heuristic-unchecked" and data_name("heuristic-unchecked") == "heuristic-unchecked"


def test_training_sets_keep_the_same_problems_and_an_unchecked_arm_its_derivation_rejects(tmp_path):
    from leancot.io import write_jsonl_atomic

    traces = [{"id": f"t{i}"} for i in range(6)]
    pruned = {
        "heuristic": {i: {} for i in ("t0", "t2", "t4", "t5")},  # t1: retracted kept, t3: no answer
        "first-answer": {i: {} for i in ("t0", "t1", "t2", "t3", "t4")},  # t5: incomplete derivation
        "heuristic-unchecked": {i: {} for i in ("t0", "t1", "t2", "t4", "t5")},  # t3: no answer
    }
    rejects = {"heuristic": [("t1", "retracted_kept"), ("t3", "no_answer")], "first-answer": [("t5", "incomplete_derivation")],
               "heuristic-unchecked": [("t3", "no_answer")]}  # fmt: skip
    for m, rows in rejects.items():
        write_jsonl_atomic(tmp_path / m / "rejects.jsonl", [{"id": i, "reason": why} for i, why in rows])
    common, ids = training_sets(traces, pruned, {m: tmp_path / m for m in pruned})
    assert common == ["t0", "t2", "t4"]  # every checked pruner verified them, and the unchecked one has a path
    assert ids["heuristic"] == ids["first-answer"] == common
    assert ids["heuristic-unchecked"] == ["t0", "t1", "t2", "t4", "t5"]  # plus what only the derivation check rejected
    only_checked = {m: pruned[m] for m in ("heuristic", "first-answer")}
    assert training_sets(traces, only_checked, {m: tmp_path / m for m in only_checked}) == (common, {m: common for m in only_checked})


def test_perplexity_is_skipped_with_a_reason_until_it_is_registered():
    reason = parse_arm("perplexity", lsp=0.5, pruners=PRUNERS)
    assert isinstance(reason, str) and "not registered" in reason and "heuristic" in reason
    assert parse_arm("perplexity", lsp=0.5, pruners={**PRUNERS, "perplexity": None}) == Arm("perplexity", "perplexity")


@pytest.mark.parametrize("spec, message", [("nope", "unknown arm 'nope'"), ("llm", "teacher endpoint"), ("lsp:1.5", "(0, 1]"),
                                           ("lsp-cot:half", "must be a number"), ("nope-unchecked", "unknown arm"),
                                           ("llm-unchecked", "unknown arm")])  # fmt: skip
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
    arms = ["verbose", "heuristic", "first-answer", "perplexity", "lsp:0.5", "lsp-cot:0.5", "heuristic-unchecked"]
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
    for arm in ("verbose", "heuristic", "first-answer", "perplexity", "lsp-0.5", "lsp-cot-0.5", "heuristic-unchecked"):
        records = (out / "seed0" / arm / "eval" / "records.jsonl").read_text().splitlines()
        assert len(records) == MICRO["test_problems"]
    train = {a: json.loads((out / "seed0" / a / "train" / "manifest.json").read_text())["config"] for a in ("lsp-0.5", "lsp-cot-0.5")}
    scorer = json.loads((out / "prune-perplexity" / "manifest.json").read_text())["config"]["perplexity"]["scorer"]
    assert scorer == str(out / "scorer" / "train" / "model")  # a student of the lab's shape, trained on every verbose trace
    assert (out / "scorer" / "verbose.jsonl").read_text().count("\n") == MICRO["train_problems"]
    assert (train["lsp-0.5"]["policy"], train["lsp-0.5"]["lsp"]) == ("lsp", 0.5)
    assert (train["lsp-cot-0.5"]["policy"], train["lsp-cot-0.5"]["lsp"]) == ("lsp-cot", 0.5)


def test_the_unchecked_arm_trains_on_the_paths_as_the_pruner_made_them(pruner_lab):
    out, summary, _ = pruner_lab
    config = json.loads((out / "prune-heuristic-unchecked" / "manifest.json").read_text())["config"]
    assert (config["method"], config["derivation_check"]) == ("heuristic", False)
    assert json.loads((out / "prune" / "manifest.json").read_text())["config"]["derivation_check"] is True
    runs = summary["data"]["pruners"]
    assert runs["heuristic-unchecked"]["derivation_check"] is False and runs["heuristic"]["derivation_check"] is True
    rows = [json.loads(line) for line in (out / "data" / "heuristic-unchecked.jsonl").read_text().splitlines()]
    records = {r["id"]: r for r in map(json.loads, (out / "prune-heuristic-unchecked" / "records.jsonl").read_text().splitlines())}
    assert [r["reasoning"] for r in rows] == [records[r["id"]]["pruned"] for r in rows]  # its own paths, unrepaired
    derivation = sum(runs["heuristic"]["rejects"].get(k, 0) for k in ("incomplete_derivation", "retracted_kept"))
    assert len(rows) == runs["heuristic-unchecked"]["trained_on"] >= summary["data"]["trained_on"]
    assert len(rows) - summary["data"]["trained_on"] <= derivation  # only the derivation check's rejects come back
    for arm in ("heuristic", "first-answer", "perplexity", "heuristic-unchecked"):  # complete paths, by the teacher's annotations
        c = summary["arms"][arm]["complete_paths"]
        assert c == runs[arm]["complete_paths"] and c["paths"] == summary["arms"][arm]["trained_on"]
    assert summary["arms"]["heuristic"]["complete_paths"]["complete"] == summary["data"]["trained_on"]
    for arm in ("verbose", "lsp:0.5", "lsp-cot:0.5"):
        assert summary["arms"][arm]["complete_paths"] is None and summary["arms"][arm]["trained_on"] == summary["data"]["trained_on"]
    assert "heuristic-unchecked accuracy >= verbose" not in summary["targets"]  # an ablation has no paper target
    twin = summary["vs_checked"]["heuristic-unchecked"]  # and it is compared with its checked twin, paired
    assert (
        twin["checked"] == "heuristic"
        and twin["problems"] == MICRO["test_problems"]
        and set(summary["vs_checked"]) == {"heuristic-unchecked"}
    )


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
    assert "| complete paths |" in table and "| verbose | " in table and table.count("| – | ") >= 3
    assert (out / "lab_arms.png").read_bytes()[:4] == b"\x89PNG" and summary["plot"] == str(out / "lab_arms.png")


def test_the_new_arms_run_through_the_stages(tmp_path):
    """The verbose student samples the training problems (once for both self arms), shortest-correct picks
    from them (a random micro student is never right: no data, so the arm is the verbose student as it is),
    and the mixture trains on the heuristic paths and the verbose traces by weight."""
    from leancot import manifest

    arms = "self-shortest:2,self-first-answer:2,mix:heuristic:0.5,step-entropy"
    summary = json.loads(run(LabConfig(out=tmp_path, seeds=[0], workers=1, max_new_tokens=16, arms=arms, **MICRO)).read_text())
    assert list(summary["arms"]) == ["verbose", "self-shortest:2", "self-first-answer:2", "mix:heuristic:0.5", "step-entropy"]
    samples = manifest.read(tmp_path / "seed0" / "verbose" / "samples-2")
    assert samples["stage"] == "eval" and samples["counts"]["records"] == 2 * summary["data"]["trained_on"]
    for arm in ("self-shortest:2", "self-first-answer:2"):
        f = summary["arms"][arm]
        assert f["sample_accuracy"] == 0.0 and f["trained_on"] == 0
        assert f["accuracy"] == summary["arms"]["verbose"]["accuracy"]  # the verbose student, evaluated again
    mix = manifest.read(tmp_path / "seed0" / "mix-heuristic-0.5" / "train")
    assert [s["weight"] for s in mix["mixture"]["sources"]] == [0.5, 0.5]
    assert {"self-shortest:2 accuracy >= verbose", "self-shortest:2 output tokens <= 50% of verbose"} <= set(summary["targets"])
    # step-entropy scores with the lab's scorer (a student trained on every verbose trace), within 2 points at <= 70%
    entropy = manifest.read(tmp_path / "prune-step-entropy")
    assert entropy["config"]["step_entropy"]["scorer"] == str(tmp_path / "scorer" / "train" / "model")
    assert "step-entropy output tokens <= 70% of verbose" in summary["targets"]
