"""--method step-entropy: the entropy from the logits, the lowest-entropy candidates first, the ratio, the stage end to end."""

from __future__ import annotations

import asyncio
import json
import math
import random

import pytest
from scoring_fixtures import TRACE, Q

from leancot import manifest
from leancot.data.traps import load_traps, traps_path
from leancot.io import read_jsonl
from leancot.prune.perplexity import Scorer, candidates, head_scores
from leancot.prune.segment import decompose
from leancot.prune.step_entropy import StepEntropyOptions, StepEntropyPruner, prune_step_entropy, step_entropy
from leancot.schema import Trace
from leancot.tokens import count_tokens_batch

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------- the entropy from the logits


def naive_entropy(logits):
    """From the definition: H(p) = -sum_v p_v log p_v, p = softmax(z)."""
    p = torch.softmax(logits.double(), -1)
    return -(p * torch.log(p)).sum(-1)


def test_entropy_of_a_uniform_distribution_is_log_v_and_of_a_one_hot_zero():
    vocab, width = 500, 16
    head = torch.nn.Linear(width, vocab, bias=False)
    torch.nn.init.zeros_(head.weight)  # every logit 0: uniform
    hidden, targets = torch.randn(10, width), torch.randint(0, vocab, (10,))
    nll, ent = head_scores(hidden, head, targets, entropy=True)
    assert ent.tolist() == pytest.approx([math.log(vocab)] * 10, rel=1e-5)
    assert nll.tolist() == pytest.approx([math.log(vocab)] * 10, rel=1e-5)
    with torch.no_grad():
        head.weight[7, 0] = 50.0  # token 7's logit is 50 (e^-50 for the others): all the mass on one token
    hidden[:, 0] = 1.0
    _, ent = head_scores(hidden, head, targets, entropy=True)
    assert max(ent.tolist()) < 1e-6 and min(ent.tolist()) > -1e-6


def test_chunked_entropy_and_nll_match_the_definition():
    torch.manual_seed(0)
    head = torch.nn.Linear(32, 300, bias=False)
    hidden, targets = 3 * torch.randn(50, 32), torch.randint(0, 300, (50,))
    nll, ent = head_scores(hidden, head, targets, entropy=True, rows=7)  # 8 chunks, the last one short
    logits = head(hidden).detach()
    assert torch.allclose(ent.double(), naive_entropy(logits), atol=1e-5)
    assert torch.allclose(nll, torch.nn.functional.cross_entropy(logits, targets, reduction="none"), atol=1e-5)
    _, none = head_scores(hidden, head, targets, rows=7)
    assert none is None  # perplexity asks for NLL only: no entropy work
    cap = 5.0  # a soft-capped model's distribution is the capped logits'
    capped = head_scores(hidden, head, targets, entropy=True, cap=cap)[1]
    assert torch.allclose(capped.double(), naive_entropy(torch.tanh(logits / cap) * cap), atol=1e-5)


def test_model_scorer_entropy_is_the_models_next_token_entropy(tiny_model_dir):
    """One batched, padded forward (batch_size 3) gives each sequence what its own full forward gives."""
    from transformers import AutoModelForCausalLM

    from leancot.prune.perplexity import ModelScorer

    rng = random.Random(0)
    seqs = [[rng.randrange(100, 5000) for _ in range(rng.randrange(2, 40))] for _ in range(7)]
    scorer = ModelScorer(str(tiny_model_dir), batch_size=3)
    got = scorer.entropy(seqs)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    with torch.inference_mode():
        for s, e in zip(seqs, got):
            want = naive_entropy(model(torch.tensor([s])).logits[0, :-1])
            assert len(e) == len(s) - 1 and max(abs(a - b) for a, b in zip(e, want.tolist())) < 1e-4
    assert [len(n) for n in scorer.nll(seqs)] == [len(s) - 1 for s in seqs]  # the same loop, aligned the same way


# --------------------------------------------------------------------------- which steps go, with known entropies


class TokenEntropy(Scorer):
    """A stub scorer: the entropy that predicts token ``t`` is ``t / 1000`` nats, whatever came before."""

    def entropy(self, seqs):
        return [[t / 1000 for t in s[1:]] for s in seqs]


def test_a_steps_score_is_the_mean_over_its_tokens_in_any_chunking():
    rng = random.Random(1)
    pieces = [[rng.randrange(1, 3000) for _ in range(rng.randrange(1, 40))] for _ in range(80)]
    steps = sorted(rng.sample(range(80), 30))
    whole = step_entropy(TokenEntropy(), [9, 9], pieces, steps, max_tokens=100_000)
    assert whole == pytest.approx({d: sum(pieces[d]) / 1000 / len(pieces[d]) for d in steps})
    chunked = step_entropy(TokenEntropy(), [9, 9], pieces, steps, max_tokens=256)  # ~2,000 tokens in chunks of 256
    assert chunked == pytest.approx(whole)


class StepEntropies(TokenEntropy):
    """A stub scorer for a whole trace: step ``i``'s tokens all carry the entropy ``values[i]`` (10 tokens each)."""

    def __init__(self, values: dict[int, float]):
        self.values = values

    def prompt_ids(self, question):
        return [1, 2]

    def piece_ids(self, pieces):
        return [[round(1000 * self.values.get(i, 5.0))] * 10 for i in range(len(pieces))]


def _removed(steps):
    return {s.index for s in steps if s.action == "delete"}


def test_the_lowest_entropy_candidates_go_first():
    steps = decompose(TRACE, Q)
    cands = candidates(steps, "17", Q, TRACE)
    assert len(cands) >= 3
    order = random.Random(2).sample(cands, len(cands))  # a known entropy rank, unrelated to position
    values = {c: 0.1 * (k + 1) for k, c in enumerate(order)}
    tokens = count_tokens_batch([s.text for s in steps])
    lowest = order[:2]
    ratio = sum(tokens[i] for i in lowest) / sum(tokens) + 1e-9  # room for exactly the two lowest
    out, path, scores = prune_step_entropy(TRACE, "17", Q, StepEntropies(values), StepEntropyOptions(ratio=ratio))
    assert _removed(out) == set(lowest)
    assert [scores[c] for c in cands] == pytest.approx([values[c] for c in cands])
    assert all(scores[i] is None for i in range(len(steps)) if i not in cands)
    assert path.endswith("The answer is \\boxed{17}")


def test_steps_the_answer_depends_on_never_go():
    """Even at ratio 1, with every step scored near zero: only candidates go, and the derivation stays."""
    steps = decompose(TRACE, Q)
    out, path, _ = prune_step_entropy(TRACE, "17", Q, StepEntropies(dict.fromkeys(range(len(steps)), 0.001)), StepEntropyOptions(ratio=1.0))
    assert _removed(out) == set(candidates(steps, "17", Q, TRACE))  # candidates exhausted before the ratio
    assert "4 * 3 = 12 dollars" in path and "12 + 5 = 17 dollars" in path
    assert "double-check" not in path and "Alternatively" not in path


def test_the_ratio_and_max_entropy_bound_the_removals():
    steps = decompose(TRACE, Q)
    cands = candidates(steps, "17", Q, TRACE)
    values = {c: 0.1 * (k + 1) for k, c in enumerate(cands)}
    tokens = count_tokens_batch([s.text for s in steps])
    for ratio in (0.05, 0.1, 0.2, 0.3, 0.5):
        out, _, _ = prune_step_entropy(TRACE, "17", Q, StepEntropies(values), StepEntropyOptions(ratio=ratio))
        gone = sum(tokens[i] for i in _removed(out))
        assert gone <= ratio * sum(tokens)
        # the ratio is reached: every candidate left would pass it
        assert all(gone + tokens[c] > ratio * sum(tokens) for c in cands if c not in _removed(out))
    out, _, _ = prune_step_entropy(TRACE, "17", Q, StepEntropies(values), StepEntropyOptions(ratio=1.0, max_entropy=0.25))
    assert _removed(out) == {c for c in cands if values[c] < 0.25}


# --------------------------------------------------------------------------- the stage, the flags, the fingerprint


def _count(path):
    return len(read_jsonl(path)) if path.exists() else 0


def test_cli_prunes_trap_traces_with_step_entropy(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from leancot.cli import app

    out = tmp_path / "se"
    args = ["prune", str(traps_path("main")), "--out", str(out), "--method", "step-entropy", "--scorer", str(tiny_model_dir),
            "--ratio", "0.4", "--scorer-max-tokens", "512", "--limit", "6", "--workers", "1"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    records = read_jsonl(out / "records.jsonl")
    assert records and _count(out / "records.jsonl") + _count(out / "rejects.jsonl") == 6
    for r in records:
        assert r["verified"] and r["method"] == f"step-entropy:{tiny_model_dir.name}"
        assert len(r["entropy"]) == len(r["steps"]) and r["tokens_after"] < r["tokens_before"]
        # only candidates go whole (a kept step loses at most a retracted sentence: compress)
        assert all(e is not None for s, e in zip(r["steps"], r["entropy"]) if s["action"] == "delete")
    m = manifest.read(out)
    assert m["config"]["step_entropy"]["ratio"] == 0.4 and "perplexity" not in m["config"]
    assert m["scorer"]["model"] == str(tiny_model_dir) and m["scorer"]["traces"] >= len(records)


def test_pruner_on_a_real_trace_with_the_tiny_scorer(tiny_model_dir):
    trap = next(t for t in load_traps("main") if t["correct"])
    from leancot import grading

    reasoning, final, _ = grading.split_think(trap["completion"])
    answer = grading.extract_answer(trap["completion"])
    trace = Trace(id=trap["id"], question=trap["question"], completion=trap["completion"], reasoning=reasoning, final=final,
                  answer=answer, gold_answer=trap["gold_answer"], correct=True)  # fmt: skip
    pruner = StepEntropyPruner(StepEntropyOptions(scorer=str(tiny_model_dir), ratio=0.5))
    p = asyncio.run(pruner.prune(trace))
    cands = set(candidates(decompose(reasoning, trace.question), answer, trace.question, reasoning))
    assert _removed(p.steps) <= cands and _removed(p.steps)
    scored = {i for i, v in enumerate(p.extra["entropy"]) if v is not None}
    assert scored == cands and all(0 <= p.extra["entropy"][i] <= math.log(49152) for i in scored)
    assert pruner.close()["scorer"]["traces"] == 1


def test_step_entropy_options_are_fingerprinted_only_when_chosen(tmp_path):
    from leancot.errors import UsageError
    from leancot.prune.config import PruneConfig

    (tmp_path / "x.jsonl").write_text("")
    base = dict(input=tmp_path / "x.jsonl", out=tmp_path / "o")
    assert "step_entropy" not in PruneConfig(**base).fingerprint_config()
    assert "step_entropy" not in PruneConfig(**base, method="perplexity").fingerprint_config()
    fp = PruneConfig(**base, method="step-entropy").fingerprint_config()
    a = fp["step_entropy"]
    assert "perplexity" not in fp and a["ratio"] == 0.5 and a["scorer"] == "smollm2-135m" and "batch_size" not in a
    assert PruneConfig(**base, method="step-entropy", step_entropy={"batch_size": 2}).fingerprint_config()["step_entropy"] == a
    assert PruneConfig(**base, method="step-entropy", step_entropy={"ratio": 0.3}).fingerprint_config()["step_entropy"] != a
    with pytest.raises(UsageError, match="step_entropy options are for --method step-entropy"):
        PruneConfig(**base, method="perplexity", step_entropy={"ratio": 0.5})


def test_help_shows_its_panel_and_the_shared_flags_go_to_the_chosen_method(tmp_path):
    from typer.testing import CliRunner

    from leancot.cli import app

    text = CliRunner().invoke(app, ["prune", "--help"], env={"COLUMNS": "100"}, terminal_width=100).output
    assert "step-entropy pruner (--method step-entropy)" in text
    assert text.index("--max-entropy") > text.index("step-entropy pruner (--method step-entropy)")
    shared = text.index("--method perplexity / step-entropy")
    assert shared < text.index("--scorer ") and shared < text.index("--ratio") and text.count("--ratio ") == 1
    assert "[default: perplexity 0.3, step-entropy 0.5]" in " ".join(text.split())
    (tmp_path / "x.jsonl").write_text('{"question": "q", "completion": "c"}\n')
    common = ["prune", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(app, [*common, "--ratio", "0.5"])
    assert res.exit_code == 2 and "--ratio is for --method perplexity or step-entropy; this run's method is heuristic" in res.output
    res = CliRunner().invoke(app, [*common, "--method", "perplexity", "--max-entropy", "1"])
    assert res.exit_code == 2 and "step_entropy options are for --method step-entropy" in res.output


def test_shared_flags_fill_the_chosen_methods_block(tmp_path, monkeypatch):
    """``--ratio`` under each method lands in that method's block only (the stage is not run)."""
    import typer
    from typer.testing import CliRunner

    from leancot.prune import command

    seen = []
    monkeypatch.setattr("leancot.prune.stage.run", lambda config: seen.append(config) or tmp_path)
    monkeypatch.setattr(command, "print_prune_stats", lambda *a: None)
    sub = typer.Typer()
    command.register(sub)

    (tmp_path / "x.jsonl").write_text("")
    for method in ("perplexity", "step-entropy"):
        res = CliRunner().invoke(sub, ["prune", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "o"), "--method", method,
                                       "--ratio", "0.25", "--scorer", "some-model"])  # fmt: skip
        assert res.exit_code == 0, res.output
    ppl, se = seen
    assert ppl.perplexity.ratio == 0.25 and ppl.perplexity.scorer == "some-model" and ppl.step_entropy is None
    assert se.step_entropy.ratio == 0.25 and se.step_entropy.scorer == "some-model" and se.perplexity is None
    assert json.loads(se.model_dump_json())["step_entropy"]["max_entropy"] is None
