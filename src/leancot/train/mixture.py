"""Mixtures of training inputs: several record sets, each with a weight, drawn anew every epoch.

``leancot train runs/pruned:0.5 runs/verbose:0.5 --out runs/mix`` trains on a mix of the pruned and
the verbose traces (LS-Mixture SFT, arXiv 2505.03469: long and short versions of the same problems).
Each input is ``PATH[:WEIGHT]`` (:func:`leancot.io.split_weight`): a records file in any training
format, or a stage's output directory (its ``records.jsonl``). How an epoch is made:

- **weights**: given on every input or on none (equal); normalised to sum 1.
- **epoch size** ``N``: with ``mix_one_per_question`` (the default) the number of distinct questions
  among the inputs' trainable sequences (the problems, when the inputs are versions of the same
  problems; the sum of the inputs when they share none); without it, the inputs' sequences summed.
- **counts**: input i gives ``n_i = w_i * N`` sequences, rounded by largest remainder (ties to the
  earlier input) so that the counts sum to ``N`` exactly, every epoch.
- **draw**: from each input a fresh seeded permutation, read in order: without replacement. An input
  asked for more than it has gives all of them, then again from a new permutation (upsampling; the
  extra draws are counted as ``repeated``).
- **one version of a question per epoch** (``mix_one_per_question``): an input passes over sequences
  whose question (normalised text, as the leakage guard compares) this epoch already has, while it
  has others; what it must take anyway is counted as ``shared``. Inputs draw in order of least slack
  (sequences minus ``n_i``), so the tightest one is not crowded out. For two versions of the same
  problems at 0.5 / 0.5: each epoch, a fresh random half of the problems in one version and the
  other half in the other; over the epochs the student sees both versions of most problems.
- **order**: the epoch's draws are shuffled together; the epochs follow one another in one stream
  that the trainer reads in order. Every random choice comes from ``numpy.random.default_rng([seed,
  epoch])``: the same seed gives the same mixes, and each epoch's differs.

What was drawn goes to the manifest's ``mixture`` (:class:`MixtureRecord`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from leancot.errors import UsageError
from leancot.io import split_weight

RECORDS = "records.jsonl"


@dataclass(frozen=True)
class Source:
    """One training input: what was written, the file read and its share of each epoch."""

    given: str  # as written, weight included ("runs/pruned:0.5")
    path: Path  # the file (or datasets dir) read: a stage's output dir becomes its records.jsonl
    weight: float  # share of an epoch, normalised over the inputs (1.0 alone)


def training_file(path: Path) -> Path:
    """A stage's output directory (``records.jsonl`` in it, not a saved ``datasets`` dir) -> that file."""
    if path.is_dir() and (path / RECORDS).is_file() and not (path / "dataset_info.json").exists():
        return path / RECORDS
    return path


def parse_sources(values: Sequence[str], *, must_exist: bool = True, distinct: bool = True) -> list[Source]:
    """``["runs/pruned:0.5", "runs/verbose:0.5"]`` -> Sources; a usage error for a missing path (unless not
    ``must_exist``: a plan's input that an earlier stage writes), a weight that is not positive, weights
    on some inputs only, or (``distinct``) one file named twice."""
    if not values:
        raise UsageError("train needs at least one input")
    parsed = [split_weight(v) for v in values]
    given = [w for _, w in parsed if w is not None]
    if given and len(given) != len(parsed):
        raise UsageError(f"give a weight to every input or to none: {', '.join(map(str, values))}")
    for text, (path, w) in zip(values, parsed):
        if w is not None and not w > 0:
            raise UsageError(f"{text}: a weight must be positive")
        if must_exist and not Path(path).exists():
            raise UsageError(f"input not found: {path}")
    paths = [training_file(Path(p)) for p, _ in parsed]
    twice = next((p for i, p in enumerate(paths) if p in paths[:i]), None)
    if distinct and twice is not None:
        raise UsageError(f"{twice} is given twice; give it once with its weight")
    weights = [w or 1.0 for _, w in parsed]
    return [Source(str(v), p, w / sum(weights)) for v, p, w in zip(values, paths, weights)]


def apportion(weights: Sequence[float], total: int) -> list[int]:
    """``total`` split by ``weights``: floors, then the largest remainders (ties to the earlier) get one more."""
    exact = [w / sum(weights) * total for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def epoch_size(keys: Sequence[Sequence[Hashable]], *, one_per_question: bool = True) -> int:
    """Sequences per epoch: the distinct questions of all inputs, or (not one per question) all their sequences."""
    return len({k for ks in keys for k in ks}) if one_per_question else sum(len(ks) for ks in keys)


@dataclass
class EpochMix:
    """One epoch's draw: ``picks`` are (input, sequence index) in training order; the rest per input."""

    picks: list[tuple[int, int]]
    counts: list[int]
    repeated: list[int]  # draws beyond the input's size (upsampling)
    shared: list[int]  # first-pass draws whose question the epoch already had (one per question only)


def draw_epoch(
    keys: Sequence[Sequence[Hashable]], weights: Sequence[float], *, seed: int, epoch: int, one_per_question: bool = True
) -> EpochMix:
    """Epoch ``epoch``'s mix of inputs whose sequences have question keys ``keys[i][j]`` (see the module doc)."""
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    counts = apportion(weights, epoch_size(keys, one_per_question=one_per_question))
    n = len(keys)
    taken: set[Hashable] = set()
    chosen: list[list[int]] = [[] for _ in range(n)]
    repeated, shared = [0] * n, [0] * n
    for i in sorted(range(n), key=lambda i: (len(keys[i]) - counts[i], i)):  # least slack first
        while len(chosen[i]) < counts[i] and keys[i]:
            order = [int(j) for j in rng.permutation(len(keys[i]))]
            fresh, rest = _fresh_first(order, keys[i], taken) if one_per_question else (order, [])
            take = (fresh + rest)[: counts[i] - len(chosen[i])]
            if chosen[i]:
                repeated[i] += len(take)  # a second pass over the input: upsampling
            else:
                shared[i] += len(take) - min(len(take), len(fresh))
            taken.update(keys[i][j] for j in take)
            chosen[i] += take
    picks = [(i, j) for i in range(n) for j in chosen[i]]
    return EpochMix([picks[k] for k in rng.permutation(len(picks))], counts, repeated, shared)


def _fresh_first(order: list[int], keys: Sequence[Hashable], taken: set[Hashable]) -> tuple[list[int], list[int]]:
    """``order`` split into (one sequence of each question the epoch does not have yet, the others), each in order."""
    fresh, rest, seen = [], [], set(taken)
    for j in order:
        if keys[j] in seen:
            rest.append(j)
        else:
            seen.add(keys[j])
            fresh.append(j)
    return fresh, rest


# --------------------------------------------------------------------------- the manifest's record


class MixSourceRecord(BaseModel):
    """One input of a mixture, as the manifest records it."""

    input: str = Field(description="The input as given (PATH[:WEIGHT]).")
    path: str = Field(description="The file read.")
    weight: float = Field(description="Its share of every epoch (normalised).")
    rows: int = Field(description="Rows read (after --limit).")
    sequences: int = Field(description="Trainable sequences after validation and --train-limit.")
    rejects: int = Field(description="Rows that cannot be trained on (in rejects.jsonl with this input).")


class MixEpochRecord(BaseModel):
    """What one epoch drew, per input (keyed by the input as given)."""

    epoch: int = Field(description="1-based.")
    counts: dict[str, int] = Field(description="Sequences drawn from each input.")
    repeated: dict[str, int] = Field(description="Of those, draws beyond the input's size (upsampled).")
    shared: dict[str, int] = Field(
        description="Of those (not repeated), sequences whose question the epoch already had: an input short of other questions."
    )
    ids: dict[str, list[str]] = Field(description="Which sequences each input gave (record ids, in training order).")


class MixtureRecord(BaseModel):
    """The manifest's ``mixture``: the inputs, their weights, the seed and every epoch's draw."""

    seed: int
    one_per_question: bool
    epoch_size: int = Field(description="Sequences per epoch (N).")
    epochs: int = Field(description="Epoch mixes drawn (enough for --epochs or --max-steps).")
    sources: list[MixSourceRecord]
    per_epoch: list[MixEpochRecord]
