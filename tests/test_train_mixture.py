"""Training on a mixture of inputs (LS-Mixture SFT): PATH:WEIGHT, per-epoch draws, the manifest, recipes, leakage."""

import json
import shutil
from collections import Counter

import pytest
import yaml
from typer.testing import CliRunner

from leancot import data, pipeline
from leancot.errors import UsageError
from leancot.io import split_weight
from leancot.train.config import TrainConfig
from leancot.train.mixture import apportion, draw_epoch, epoch_size, parse_sources
from leancot.train.stage import run

# --------------------------------------------------------------------------- PATH[:WEIGHT]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("runs/pruned:0.5", ("runs/pruned", 0.5)),
        ("runs/pruned:2", ("runs/pruned", 2.0)),
        ("runs/pruned:.25", ("runs/pruned", 0.25)),
        ("runs/pruned", ("runs/pruned", None)),
        ("C:\\x\\y.jsonl", ("C:\\x\\y.jsonl", None)),
        ("C:\\x\\y.jsonl:0.3", ("C:\\x\\y.jsonl", 0.3)),
        ("dir:with:colons", ("dir:with:colons", None)),
        ("dir:with:colons:1e-1", ("dir:with:colons", 0.1)),
        ("bundled:r1-traces", ("bundled:r1-traces", None)),
        ("a:nan", ("a:nan", None)),
        ("a:-1", ("a", -1.0)),
    ],
)
def test_a_weight_is_read_only_when_what_follows_the_last_colon_is_a_number(text, expected):
    assert split_weight(text) == expected


def _records(n, *, version="pruned", start=0):
    return [
        {"id": f"{version}{i}", "question": f"What is {i} + {i}?", "pruned": f"{i} + {i} = {2 * i}." + (" Check." * 10 if version == "verbose" else ""),
         "answer": str(2 * i)}
        for i in range(start, start + n)
    ]  # fmt: skip


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_inputs_parse_into_files_and_shares_a_stage_dir_and_colons_included(tmp_path):
    stage_dir = _write(tmp_path / "dir:with:colons" / "records.jsonl", _records(2)).parent
    plain = _write(tmp_path / "verbose.jsonl", _records(2, version="verbose"))
    one, two = parse_sources([f"{stage_dir}:1", f"{plain}:3"])
    assert (one.path, one.weight) == (stage_dir / "records.jsonl", 0.25)  # a stage's output dir: its records
    assert (two.path, two.weight) == (plain, 0.75)
    assert [s.weight for s in parse_sources([str(stage_dir), str(plain)])] == [0.5, 0.5]  # no weights: equal
    assert TrainConfig(input=[str(stage_dir), str(plain)], out=tmp_path / "o").mixes


@pytest.mark.parametrize(
    "inputs, message",
    [
        (["{a}:0.5", "{b}"], "a weight to every input or to none"),
        (["{a}:0", "{b}:1"], "a weight must be positive"),
        (["{a}:-0.5", "{b}:1"], "a weight must be positive"),
        (["{a}:0.5", "{a}/nothing.jsonl:0.5"], "input not found"),
    ],
)
def test_bad_mixtures_are_refused_with_one_line(tmp_path, inputs, message):
    a, b = _write(tmp_path / "a.jsonl", _records(2)), _write(tmp_path / "b.jsonl", _records(2))
    with pytest.raises(UsageError, match=message):
        TrainConfig(input=[i.format(a=a, b=b) for i in inputs], out=tmp_path / "o")
    with pytest.raises(UsageError, match="given twice"):
        TrainConfig(input=[f"{a}:1", f"{a}:2"], out=tmp_path / "o").sources


def test_the_cli_takes_several_inputs_and_refuses_a_bad_weight_with_exit_2(tmp_path):
    from leancot.cli import app

    a, b = _write(tmp_path / "a.jsonl", _records(2)), _write(tmp_path / "b.jsonl", _records(2))
    result = CliRunner().invoke(app, ["train", f"{a}:0.5", f"{b}:-1", "--out", str(tmp_path / "o"), "--student", "tiny:2x32"])
    assert result.exit_code == 2 and "a weight must be positive" in result.output


# --------------------------------------------------------------------------- the per-epoch draw


def test_counts_follow_the_weights_exactly_and_sum_to_the_epoch():
    assert apportion([0.5, 0.5], 10) == [5, 5]
    assert apportion([1, 1, 1], 10) == [4, 3, 3]  # the tie goes to the earlier input
    assert apportion([0.3, 0.7], 7) == [2, 5]
    assert sum(apportion([0.17, 0.41, 0.42], 1001)) == 1001


def test_two_versions_of_the_same_problems_split_each_epoch_between_them():
    keys = [[f"q{i}" for i in range(20)], [f"q{i}" for i in range(20)]]  # the pruned and the verbose version of 20 problems
    epochs = [draw_epoch(keys, [0.25, 0.75], seed=7, epoch=e) for e in range(3)]
    for mix in epochs:
        assert epoch_size(keys) == 20 and mix.counts == [5, 15]
        assert Counter(i for i, _ in mix.picks) == {0: 5, 1: 15}
        questions = [keys[i][j] for i, j in mix.picks]
        assert sorted(questions) == sorted(keys[0])  # every problem once, in one version
        assert mix.repeated == [0, 0] and mix.shared == [0, 0]
    assert epochs[0].picks != epochs[1].picks != epochs[2].picks  # each epoch draws anew
    again = draw_epoch(keys, [0.25, 0.75], seed=7, epoch=1)
    assert again.picks == epochs[1].picks  # ... reproducibly from the seed
    assert draw_epoch(keys, [0.25, 0.75], seed=8, epoch=1).picks != epochs[1].picks


def test_disjoint_inputs_upsample_the_short_one_and_can_draw_everything():
    keys = [["a0", "a1", "a2", "a3"], [f"b{i}" for i in range(12)]]
    mix = draw_epoch(keys, [0.5, 0.5], seed=0, epoch=0)
    assert epoch_size(keys) == 16 and mix.counts == [8, 8]
    drawn = Counter(mix.picks)
    assert all(drawn[(0, j)] == 2 for j in range(4)) and mix.repeated == [4, 0]  # each of the four twice
    assert len({j for i, j in mix.picks if i == 1}) == 8  # without replacement within a pass
    # one_per_question off: an epoch is the inputs summed; equal sizes at equal weights are their union
    same = [[f"q{i}" for i in range(6)], [f"q{i}" for i in range(6)]]
    union = draw_epoch(same, [1, 1], seed=0, epoch=0, one_per_question=False)
    assert sorted(union.picks) == [(i, j) for i in range(2) for j in range(6)]


def test_an_input_short_of_other_questions_shares_and_says_so():
    keys = [["q0", "q1", "q2", "q3"], ["q0", "q1"]]  # the second input has only two of the four problems
    mix = draw_epoch(keys, [0.5, 0.5], seed=3, epoch=0)
    assert mix.counts == [2, 2]
    # the tightest input draws first: it keeps both its questions, the other takes the remaining two
    assert sorted(keys[i][j] for i, j in mix.picks) == ["q0", "q1", "q2", "q3"] and mix.shared == [0, 0]
    tight = draw_epoch([["q0", "q1"], ["q0", "q1"]], [0.5, 0.5], seed=0, epoch=0)
    assert tight.counts == [1, 1] and tight.shared == [0, 0]
    several = [["q0", "q0", "q1"], ["q0", "q1", "q1"]]  # two traces of a question in one input: one of them an epoch
    mix = draw_epoch(several, [0.9, 0.1], seed=0, epoch=0)
    assert mix.counts == [2, 0] and sorted(several[i][j] for i, j in mix.picks) == ["q0", "q1"]


# --------------------------------------------------------------------------- the fingerprint


def test_inputs_and_weights_are_part_of_the_fingerprint(tmp_path):
    a, b = _write(tmp_path / "a.jsonl", _records(2)), _write(tmp_path / "b.jsonl", _records(2, version="verbose"))
    fp = lambda *inputs, **kw: TrainConfig(input=list(inputs), out=tmp_path / "o", **kw).fingerprint_config()  # noqa: E731
    assert fp(f"{a}:0.5", f"{b}:0.5") != fp(f"{a}:0.25", f"{b}:0.75")
    assert fp(f"{a}:1", f"{b}:1") == fp(f"{a}:0.5", f"{b}:0.5") == fp(str(a), str(b))  # the same shares
    assert fp(str(a), str(b)) != fp(str(b), str(a))  # the order draws differently
    assert fp(str(a), str(b)) != fp(str(a), str(b), mix_one_per_question=False)
    single = fp(str(a))
    assert "mix" not in single and "mix_one_per_question" not in single  # one input: as before mixtures


# --------------------------------------------------------------------------- a run


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mix")
    pruned = _write(tmp / "prune" / "records.jsonl", _records(6) + [{"id": "bad", "question": "q", "pruned": "", "answer": "1"}])
    verbose = _write(tmp / "verbose.jsonl", _records(6, version="verbose"))
    config = {"input": [f"{pruned.parent}:0.5", f"{verbose}:0.5"], "out": tmp / "run", "student": "tiny:2x32", "epochs": 2,
              "batch_size": 2, "lr": 1e-2, "warmup": 0, "save_steps": 3, "seed": 3}  # fmt: skip
    return tmp, config, run(TrainConfig(**config))


def test_a_two_input_run_trains_and_its_manifest_records_every_epochs_mix(mixed_run):
    tmp, config, out = mixed_run
    man = json.loads((out / "manifest.json").read_text())
    mix = man["mixture"]
    pruned, verbose = config["input"]
    assert mix["seed"] == 3 and mix["one_per_question"] and mix["epoch_size"] == 6 and mix["epochs"] == 2
    assert [(s["input"], s["weight"], s["rows"], s["sequences"], s["rejects"]) for s in mix["sources"]] == [
        (pruned, 0.5, 7, 6, 1), (verbose, 0.5, 6, 6, 0)]  # fmt: skip
    assert [e["counts"] for e in mix["per_epoch"]] == [{pruned: 3, verbose: 3}] * 2
    for e in mix["per_epoch"]:
        numbers = sorted(i.removeprefix("pruned").removeprefix("verbose") for ids in e["ids"].values() for i in ids)
        assert numbers == [str(i) for i in range(6)]  # every problem once an epoch, in one version
    assert mix["per_epoch"][0]["ids"] != mix["per_epoch"][1]["ids"]
    assert set(man["inputs"]) == {str(tmp / "prune" / "records.jsonl"), str(tmp / "verbose.jsonl")}
    assert man["config"]["mix"] == [{"input": str(tmp / "prune" / "records.jsonl"), "weight": 0.5},
                                    {"input": str(tmp / "verbose.jsonl"), "weight": 0.5}]  # fmt: skip
    assert man["counts"] == {"input": 13, "sequences": 12, "records": 12, "rejects": 1}
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert rejects == [{"id": "bad", "reason": "no_reasoning", "detail": "empty pruned/reasoning/original", "input": pruned}]
    m = json.loads((out / "metrics.json").read_text())
    assert m["optimizer_steps"] == 6 and m["sequences"] == 12  # 2 epochs of 6, 2 a step
    assert (out / "model" / "config.json").exists()


def test_a_finished_mixture_is_skipped_and_another_weight_over_it_is_refused(mixed_run):
    tmp, config, out = mixed_run
    before = (out / "manifest.json").read_text()
    assert run(TrainConfig(**config)) == out and (out / "manifest.json").read_text() == before
    pruned, verbose = (i.rsplit(":", 1)[0] for i in config["input"])
    with pytest.raises(UsageError, match="another config"):
        run(TrainConfig(**(config | {"input": [f"{pruned}:0.25", f"{verbose}:0.75"]})))


def test_an_interrupted_mixture_resumes_on_the_same_draws(mixed_run, tmp_path):
    _, config, out = mixed_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "model")
    shutil.rmtree(copy / "checkpoints" / "checkpoint-6")
    man = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(man | {"status": "running"}))
    run(TrainConfig(**(config | {"out": copy})))
    m = json.loads((copy / "metrics.json").read_text())
    assert m["extra"]["resumed_from"].endswith("checkpoint-3") and [c["step"] for c in m["loss_curve"]] == list(range(1, 7))
    assert json.loads((copy / "manifest.json").read_text())["mixture"] == man["mixture"]


def test_validation_and_train_limit_take_whole_questions_from_every_input(tmp_path):
    from leancot.train.stage import prepare_mixture

    pruned, verbose = _write(tmp_path / "p.jsonl", _records(10)), _write(tmp_path / "v.jsonl", _records(10, version="verbose"))
    base = {"input": [str(pruned), str(verbose)], "student": "tiny:2x32", "seed": 1, "epochs": 1}
    stream, val, counts, mix = prepare_mixture(TrainConfig(**base, out=tmp_path / "a", val_fraction=0.2, train_limit=5))
    held = [json.loads(x) for x in (tmp_path / "a" / "validation.jsonl").read_text().splitlines()]
    numbers = lambda ids: {i.removeprefix("pruned").removeprefix("verbose") for i in ids}  # noqa: E731
    assert len(held) == len(val) == 4 and len(numbers(h["id"] for h in held)) == 2  # 2 questions, both versions of each
    assert {h["input"] for h in held} == {str(pruned), str(verbose)}
    trained = {i for e in mix.per_epoch for ids in e.ids.values() for i in ids}
    assert not numbers(trained) & numbers(h["id"] for h in held)  # no question both trained on and held out
    assert mix.epoch_size == len(stream) == 5 and [s.sequences for s in mix.sources] == [5, 5]
    assert counts == {"input": 20, "sequences": 10, "rejects": 0, "validation": 4, "unused": 6}


# --------------------------------------------------------------------------- recipes and the leakage guard


def _recipe(tmp_path, stages):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"out": str(tmp_path / "runs"), "stages": stages}))
    return path


def test_a_recipe_sweeps_the_mix_weight_over_a_stages_output_and_a_file(tmp_path):
    verbose = _write(tmp_path / "verbose.jsonl", _records(4, version="verbose"))
    weights = [["{prune}:0.25", f"{verbose}:0.75"], ["{prune}:0.5", f"{verbose}:0.5"]]
    plan = pipeline.plan(_recipe(tmp_path, {"prune": {"input": "bundled:r1-traces"},
                                            "train": {"student": "tiny:2x32", "input": weights},
                                            "eval": {"benchmarks": ["gsm8k"], "limit": 2}}))  # fmt: skip
    runs = tmp_path / "runs"
    steps = [(s.stage, s.variant) for s in plan.steps]
    tags = [v["variant"] for v in plan.variants]
    assert tags == [
        "inputprune@0.25+" + str(verbose).replace("/", "_") + "@0.75",
        "inputprune@0.5+" + str(verbose).replace("/", "_") + "@0.5",
    ]
    assert steps == [("prune", ""), ("train", tags[0]), ("eval", tags[0]), ("train", tags[1]), ("eval", tags[1])]
    trains = [s.config for s in plan.steps if s.stage == "train"]
    assert [t.input for t in trains] == [[f"{runs / 'prune'}:0.25", f"{verbose}:0.75"], [f"{runs / 'prune'}:0.5", f"{verbose}:0.5"]]
    assert [t.out for t in trains] == [runs / tag / "train" for tag in tags]
    # the prune output does not exist yet: it is validated as a stand-in, its weight checked with the others
    with pytest.raises(UsageError, match="stages.train: .*a weight to every input or to none"):
        pipeline.plan(_recipe(tmp_path, {"prune": {"input": "bundled:r1-traces"}, "train": {"input": ["{prune}", f"{verbose}:0.5"]}}))


def test_a_single_train_input_still_chains_from_prune(tmp_path):
    plan = pipeline.plan(_recipe(tmp_path, {"prune": {"input": "bundled:r1-traces"}, "train": {"student": "tiny:2x32"}}))
    assert plan.steps[1].config.input == [str(tmp_path / "runs" / "prune" / "records.jsonl")]
    assert not plan.steps[1].config.mixes


def test_the_leakage_guard_reads_every_input_of_a_mixture(tmp_path):
    clean = _write(tmp_path / "clean.jsonl", _records(3))
    leaked = _write(
        tmp_path / "leaked.jsonl", [{"question": p.question, "pruned": "x", "answer": "1"} for p in data.load("math500", limit=2)]
    )
    evaluate = {"model": "smollm2-135m", "benchmarks": ["math500"]}
    with pytest.raises(UsageError, match=r"2 training question\(s\) are also math500 questions"):
        pipeline.plan(_recipe(tmp_path, {"train": {"input": [f"{clean}:0.5", f"{leaked}:0.5"]}, "eval": evaluate}))
    report = pipeline.plan(_recipe(tmp_path, {"train": {"input": [str(clean), str(leaked)]}, "eval": evaluate}), allow_overlap=True).leakage
    assert set(report.as_dict()["training_sources"]) == {f"train input {clean}", f"train input {leaked}"}
