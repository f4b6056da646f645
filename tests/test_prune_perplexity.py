"""--method perplexity: functional candidates, the ratio bound, the importance score and the stage end to end."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import sys

import pytest
from scoring_fixtures import TRACE, Q

from leancot.data import correct_traces
from leancot.prune.heuristic import prune
from leancot.prune.perplexity import (
    FUNCTIONAL,
    PerplexityOptions,
    PerplexityPruner,
    Scorer,
    _chunks,
    candidates,
    removal_importance,
    select,
)
from leancot.prune.segment import decompose
from leancot.schema import Trace


def test_candidates_are_only_functional_steps():
    steps = decompose(TRACE, Q)
    cands = candidates(steps, "17", Q)
    texts = [steps[i].text for i in cands]
    assert not any("4 * 3 = 12 dollars" in t or "12 + 5 = 17 dollars" in t for t in texts)  # the derivation stays
    assert any("Hmm" in t for t in texts) and any("double-check" in t for t in texts)
    assert any(t.startswith("Alternatively") for t in texts)  # a second method after the answer


@pytest.fixture(scope="module")
def real() -> list[Trace]:
    return correct_traces()


def test_real_candidates_are_functional_or_past_the_answer(real):
    for trace in real:
        steps = decompose(trace.reasoning, trace.question)
        cands = candidates(steps, trace.answer, trace.question, trace.reasoning)
        assert cands, trace.id
        content = [i for i in cands if steps[i].skill not in FUNCTIONAL]
        # a content step is a candidate only as an abandoned detour, a replaced slip or a step past the answer:
        # a step the heuristic pruner drops too (nothing the derivation uses)
        dropped = {s.index for s in prune(steps, trace.answer, trace.question, reasoning=trace.reasoning)[0] if s.action == "delete"}
        assert set(content) <= dropped, trace.id


def test_select_keeps_the_ratio_and_the_threshold():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randrange(1, 30)
        tokens = [rng.randrange(1, 80) for _ in range(n)]
        importance = {i: rng.uniform(-0.2, 0.3) for i in rng.sample(range(n), rng.randrange(n + 1))}
        if importance:
            importance[next(iter(importance))] = math.inf
        ratio, threshold = rng.uniform(0.05, 0.9), rng.uniform(-0.1, 0.2)
        removed = select(importance, tokens, ratio, threshold)
        assert sum(tokens[i] for i in removed) <= ratio * sum(tokens) + 1e-9
        assert all(importance[i] < threshold for i in removed)
        # greedy: a candidate left out below the threshold did not fit when its turn came, so it does not now
        gone = sum(tokens[i] for i in removed)
        for i, v in importance.items():
            if i not in removed and v < threshold:
                assert gone + tokens[i] > ratio * sum(tokens)
    assert select({0: 0.0, 1: 0.01, 2: 0.5}, [10, 10, 10, 70], 0.3, 0.05) == {0, 1}
    assert select({0: 0.0, 1: 0.01}, [40, 10, 50], 0.3, 0.05) == {1}  # 0 does not fit: skipped, 1 still does


class CopyScorer(Scorer):
    """A stub LM: a token that already occurred in the context is cheap (0.1 nats), a new one costs 5."""

    def nll(self, seqs):
        return [[0.1 if t in s[:i] else 5.0 for i, t in enumerate(s) if i] for s in seqs]


def test_removing_a_step_the_rest_uses_scores_as_important():
    prompt = [1, 2]
    filler, defines, uses, answer = [10, 11, 12], [20, 21, 22], [30, 20, 21, 22], [40, 22]
    pieces = [filler, defines, uses, answer]
    imp = removal_importance(CopyScorer(), prompt, pieces, [0, 1, 2], window=8)
    assert imp[0] == pytest.approx(0.0)  # nothing later repeats the filler
    assert imp[1] > 2  # the next step copies what it defines
    assert imp[2] == pytest.approx(0.0)  # the answer's 22 stands in the defining step too
    assert select(imp, [len(p) for p in pieces], 0.6, 0.05) == {0, 2}  # 7 of 12 tokens


def test_chunks_cover_every_candidate_within_the_budget():
    rng = random.Random(1)
    for _ in range(100):
        sizes = [rng.randrange(1, 60) for _ in range(rng.randrange(2, 80))]
        offsets = [0]
        for s in sizes:
            offsets.append(offsets[-1] + s)
        cands = sorted(rng.sample(range(len(sizes) - 1), rng.randrange(1, len(sizes))))
        budget, window = rng.randrange(64, 400), rng.randrange(1, 64)
        chunks = _chunks(offsets, cands, budget, window)
        assert [d for _, _, m in chunks for d in m] == cands
        for start, stop, members in chunks:
            assert stop - start <= budget and start in offsets
            for d in members[1:]:  # all but a chunk's first have their whole window inside
                assert offsets[d] >= start and offsets[d + 1] + min(window, offsets[-1] - offsets[d + 1]) <= stop


def test_long_paths_are_scored_in_chunks_like_short_ones():
    pieces = [[100 + i, 200 + i, 300 + i] for i in range(60)]
    imp_full = removal_importance(CopyScorer(), [1], pieces, list(range(0, 59, 2)), max_tokens=4096, window=6)
    imp_chunked = removal_importance(CopyScorer(), [1], pieces, list(range(0, 59, 2)), max_tokens=256, window=6)
    assert imp_full == pytest.approx(imp_chunked)  # the copy model only looks back within a step


# --------------------------------------------------------------------------- with the tiny random scorer


def test_cached_scoring_matches_the_reference(tiny_model_dir):
    from leancot.prune.perplexity import ModelScorer

    rng = random.Random(0)
    prompt = [rng.randrange(100, 5000) for _ in range(12)]
    pieces = [[rng.randrange(100, 5000) for _ in range(rng.randrange(1, 25))] for _ in range(30)]
    cands = list(range(0, 29, 2))
    cached = ModelScorer(str(tiny_model_dir), batch_size=3)
    plain = ModelScorer(str(tiny_model_dir), batch_size=4, use_cache=False)
    for max_tokens, window in ((2048, 16), (256, 40)):
        a = removal_importance(cached, prompt, pieces, cands, max_tokens=max_tokens, window=window)
        b = removal_importance(plain, prompt, pieces, cands, max_tokens=max_tokens, window=window)
        assert a.keys() == b.keys() == set(cands)
        assert max(abs(a[k] - b[k]) for k in a) < 1e-4


def test_pruner_keeps_the_ratio_and_closes_with_the_answer(tiny_model_dir, real):
    settings = PerplexityOptions(scorer=str(tiny_model_dir), ratio=0.2, threshold=math.inf, max_tokens=512, window=32)
    pruner = PerplexityPruner(settings)
    from leancot.tokens import count_tokens_batch

    for trace in real[:2]:
        p = asyncio.run(pruner.prune(trace))
        tokens = count_tokens_batch([s.text for s in p.steps])
        gone = sum(t for s, t in zip(p.steps, tokens) if s.action == "delete")
        assert 0 < gone <= 0.2 * sum(tokens)
        assert p.pruned.endswith(f"The answer is \\boxed{{{trace.answer}}}") and p.method == f"perplexity:{tiny_model_dir.name}"
        functional = set(candidates(decompose(trace.reasoning, trace.question), trace.answer, trace.question))
        assert {s.index for s in p.steps if s.action == "delete"} <= functional
        assert len(p.extra["importance"]) == len(p.steps)
        assert all((v is None) == (i not in functional) for i, v in enumerate(p.extra["importance"]))


def test_prune_stage_with_perplexity(tmp_path, tiny_model_dir):
    from leancot import data, manifest
    from leancot.io import read_jsonl
    from leancot.prune.config import PruneConfig
    from leancot.prune.stage import run

    config = PruneConfig(
        input=data.traces_path(),
        out=tmp_path / "ppl",
        method="perplexity",
        perplexity={"scorer": str(tiny_model_dir), "threshold": 1.0, "max_tokens": 512, "window": 32},
        limit=4,
        workers=1,
    )
    out = run(config)
    records = read_jsonl(out / "records.jsonl")
    assert records and all(r["method"].startswith("perplexity:") and r["verified"] for r in records)
    for r in records:
        assert r["tokens_after"] < r["tokens_before"]
        assert sum(s["tokens"] for s in r["steps"] if s["action"] == "delete") <= 0.3 * sum(s["tokens"] for s in r["steps"])
    assert manifest.read(out)["scorer"]["model"] == str(tiny_model_dir)


def test_a_pruners_options_are_its_own(tmp_path):
    """Validated by its model, fingerprinted only when it runs, refused under another method."""
    from leancot.errors import UsageError
    from leancot.prune.config import PruneConfig

    base = dict(input=tmp_path / "x.jsonl", out=tmp_path / "o")
    (tmp_path / "x.jsonl").write_text("")
    heuristic = PruneConfig(**base).fingerprint_config()
    assert "perplexity" not in heuristic and "teacher" not in heuristic
    a = PruneConfig(**base, method="perplexity").fingerprint_config()["perplexity"]
    assert a["ratio"] == 0.3 and a["scorer"] == "smollm2-135m" and "batch_size" not in a
    assert PruneConfig(**base, method="perplexity", perplexity={"batch_size": 2}).fingerprint_config()["perplexity"] == a
    assert PruneConfig(**base, method="perplexity", perplexity={"ratio": 0.5}).fingerprint_config()["perplexity"] != a
    with pytest.raises(UsageError, match="perplexity options are for --method perplexity; this run's method is heuristic"):
        PruneConfig(**base, perplexity={"ratio": 0.5})
    with pytest.raises(UsageError, match="--method llm needs a teacher model"):
        PruneConfig(**base, method="llm")


def test_the_cli_shows_each_pruners_options_in_its_panel_and_refuses_them_under_another_method(tmp_path):
    from typer.testing import CliRunner

    from leancot.cli import app

    help_text = CliRunner().invoke(app, ["prune", "--help"]).output
    assert "perplexity pruner (--method perplexity)" in help_text and "llm pruner (--method llm)" in help_text
    assert help_text.index("--scorer-window") > help_text.index("perplexity pruner") and "--teacher-model" in help_text
    (tmp_path / "x.jsonl").write_text('{"question": "q", "completion": "c"}\n')
    res = CliRunner().invoke(app, ["prune", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "o"), "--scorer-window", "64"])
    assert res.exit_code == 2 and "perplexity options are for --method perplexity" in res.output
    res = CliRunner().invoke(app, ["prune", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "o"), "--ratio", "0.5"])
    assert res.exit_code == 2 and "--ratio is for --method perplexity or step-entropy" in res.output  # a flag both share


def test_choosing_another_method_imports_no_torch():
    code = (
        "import sys; from leancot.prune import registry, perplexity; from leancot.prune.config import PruneConfig; "
        "print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
