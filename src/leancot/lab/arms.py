"""The lab's students ("arms"): which traces each is trained on and with which length policy.

An arm is named on the command line (``leancot lab --arms verbose,heuristic,lsp-cot:0.5``):

- ``verbose``: the teacher's traces as written;
- a registered pruner (``heuristic``, ``first-answer``, ``perplexity``, ...): the teacher's traces
  pruned by ``leancot.prune.stage`` with that ``--method``; ``pruned`` is the historical name of
  the ``heuristic`` arm (the default arms keep it, so earlier summaries still compare);
- ``<pruner>-unchecked`` (``heuristic-unchecked``): an ablation, the paths as that pruner made them,
  pruned with ``--no-derivation-check`` (no derivation check, no repair) into their own directory;
- ``lsp:X`` / ``lsp-cot:X``: the verbose traces under the trainer's lead-span policy at ``X``
  (``lsp`` cuts the whole sequence, ``lsp-cot`` only the reasoning, so the answer stays);
  ``lsp`` alone is the historical ``lsp-cot`` arm at ``LabConfig.lsp``;
- ``self-shortest:k`` (On-Policy SFT, arXiv 2602.13407): the ``verbose`` student samples ``k``
  answers per training problem at ``LabConfig.self_temperature`` (the eval stage, ``--n k``), the
  prune stage keeps each problem's shortest correct one (``--method shortest-correct``), and the
  verbose student is trained further on them; ``self-first-answer:k`` cuts that sample at its first
  answer too (STOP/ECN's setting, ``--then first-answer``). Both start from the verbose student,
  as On-Policy SFT starts from a long-CoT model, so the ``verbose`` arm always runs with them;
- ``mix:<pruner>:W`` (LS-Mixture, arXiv 2505.03469): trained on the pruner's paths with weight ``W``
  and the verbose traces with ``1 - W`` (``leancot train --input A:W --input B:1-W``).

Every arm trains the same student on the same verified problems with the same trainer and is
evaluated by the same evaluator; only its data or its length policy differ. The problems are
those every checked pruner verified (the heuristic one when no arm names a checked pruner), so
an unchecked arm never changes what the others train on. An unchecked arm also keeps the
problems that only the derivation check took out of that set: in the lab the check rejects the
paths it cannot repair (a retracted computation kept), so without them the ablation would train
on the checked paths and measure nothing. The summary counts each arm's problems.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leancot.errors import UsageError
from leancot.io import read_jsonl

log = logging.getLogger(__name__)

#: The arms of ``leancot lab`` when ``--arms`` is not given (today's three students).
DEFAULT_ARMS = ("verbose", "pruned", "lsp")
#: Pruners the lab names before they are registered: an arm naming one is skipped, not an error.
EXPECTED_PRUNERS = ("perplexity", "step-entropy")
#: The self-sampling arms: the pruner applied to the shortest correct sample (None: it is kept whole).
SELF_ARMS = {"self-shortest": None, "self-first-answer": "first-answer"}
#: Samples per training problem of a self-sampling arm named without ``:k``.
DEFAULT_SAMPLES = 4
#: Pruners the lab cannot run: they need a teacher endpoint, and the lab is offline.
ONLINE_PRUNERS = ("llm",)
#: The suffix of an ablation arm: the pruner's paths before the derivation check and repair.
UNCHECKED = "-unchecked"


@dataclass(frozen=True)
class Arm:
    """One student: its label, its training data (``verbose`` or a pruner's name) and length policy."""

    name: str
    data: str
    policy: str = "lsp"
    lsp: float = 1.0
    samples: int = 0  # a self-sampling arm: answers the verbose student samples per training problem
    then: str | None = None  # a self-sampling arm: the pruner applied to the shortest correct sample
    weight: float | None = None  # a mixture arm: the share of the pruner's paths (the rest verbose)

    @property
    def kind(self) -> str:
        """``verbose``, ``pruner`` (trained on pruned traces), ``lsp`` (verbose traces, truncated),
        ``self`` (the verbose student trained on its own shortest correct samples) or ``mix``."""
        if self.samples:
            return "self"
        if self.weight is not None:
            return "mix"
        if self.data != "verbose":
            return "pruner"
        return "lsp" if self.lsp < 1.0 else "verbose"

    @property
    def dirname(self) -> str:
        """The arm's directory under ``seed<N>/`` (no ``:`` in a path)."""
        return self.name.replace(":", "-")


def parse_arm(spec: str, *, lsp: float, pruners: dict[str, object]) -> Arm | str:
    """The arm named ``spec``, or the reason it is skipped (a pruner not registered yet).

    ``lsp`` is the lead-span proportion of the historical ``lsp`` arm; ``pruners`` the registry."""
    spec = spec.strip()
    if spec == "verbose":
        return Arm("verbose", "verbose")
    if spec == "pruned":
        return Arm("pruned", "heuristic")
    if spec == "lsp":
        return Arm("lsp", "verbose", "lsp-cot", lsp)
    head, sep, value = spec.partition(":")
    if head in SELF_ARMS:
        return _self_arm(spec, head, value if sep else None)
    if head == "mix" and sep:
        return _mix_arm(spec, value, pruners)
    if head in ("lsp", "lsp-cot") and sep:
        try:
            x = float(value)
        except ValueError:
            raise UsageError(f"--arms: {spec!r}: the lead-span proportion must be a number in (0, 1], e.g. {head}:0.5") from None
        if not 0 < x <= 1:
            raise UsageError(f"--arms: {spec!r}: the lead-span proportion must be in (0, 1]")
        return Arm(f"{head}:{x:g}", "verbose", head, x)
    if spec in ONLINE_PRUNERS:
        raise UsageError(
            f"--arms: the {spec!r} pruner needs a teacher endpoint; the lab runs offline (choose {', '.join(_offline(pruners))})"
        )
    if spec in pruners:
        return Arm(spec, spec)
    if spec.endswith(UNCHECKED) and spec.removesuffix(UNCHECKED) in _offline(pruners):
        return Arm(spec, spec)
    if spec in EXPECTED_PRUNERS:
        return f"the {spec!r} pruner is not registered in this leancot (leancot.prune.registry.PRUNERS has {', '.join(pruners)})"
    choices = ["verbose", *_offline(pruners), f"<pruner>{UNCHECKED}", "lsp:X", "lsp-cot:X", "self-shortest:k", "self-first-answer:k",
               "mix:<pruner>:W"]  # fmt: skip
    raise UsageError(f"--arms: unknown arm {spec!r}; choose from {', '.join(choices)}")


def _self_arm(spec: str, head: str, value: str | None) -> Arm:
    try:
        k = DEFAULT_SAMPLES if value is None else int(value)
    except ValueError:
        k = 0
    if k < 1:
        raise UsageError(f"--arms: {spec!r}: the samples per problem must be a positive integer, e.g. {head}:4")
    return Arm(f"{head}:{k}", "self", samples=k, then=SELF_ARMS[head])


def _mix_arm(spec: str, value: str, pruners: dict[str, object]) -> Arm:
    pruner, _, weight = value.rpartition(":")
    try:
        w = float(weight)
    except ValueError:
        w = -1.0
    if pruner not in _offline(pruners) or not 0 < w < 1:
        raise UsageError(f"--arms: {spec!r}: expected mix:<pruner>:W with an offline pruner and 0 < W < 1, e.g. mix:heuristic:0.5")
    return Arm(f"mix:{pruner}:{w:g}", pruner, weight=w)


def _offline(pruners: dict[str, object]) -> list[str]:
    return [p for p in pruners if p not in ONLINE_PRUNERS]


def resolve_arms(specs: list[str], *, lsp: float) -> tuple[list[Arm], dict[str, str]]:
    """The arms to run, in the order given (duplicates dropped), and ``{spec: reason}`` for those skipped."""
    from leancot.prune.registry import PRUNERS

    arms: list[Arm] = []
    skipped: dict[str, str] = {}
    for spec in specs:
        arm = parse_arm(spec, lsp=lsp, pruners=PRUNERS)
        if isinstance(arm, str):
            log.warning("lab: skipping arm %r: %s", spec, arm)
            skipped[spec] = arm
        elif arm.name in {a.name for a in arms}:
            continue
        elif arm.dirname in {a.dirname for a in arms}:
            raise UsageError(f"--arms: {spec!r} and another arm would share the directory {arm.dirname!r}")
        else:
            arms.append(arm)
    if not arms:
        raise UsageError("--arms: no arm left to run" + (f" ({'; '.join(skipped.values())})" if skipped else ""))
    if any(a.kind == "self" for a in arms) and "verbose" not in {a.name for a in arms}:
        arms.insert(0, Arm("verbose", "verbose"))  # the self-sampling arms start from its student
    return arms, skipped


def pruners_of(arms: list[Arm]) -> list[str]:
    """The pruning runs the arms need, in order (``heuristic-unchecked`` is one); the heuristic
    pruner first when no arm names a checked one.

    The heuristic pruner then still runs, as before there were pruner arms, so that every arm
    trains on the problems whose pruned path a checked pruner verified (the lab's historical set)."""
    methods = list(dict.fromkeys(a.data for a in arms if a.kind in ("pruner", "mix")))
    return methods if any(checked(m) for m in methods) else ["heuristic", *methods]


def checked(run: str) -> bool:
    """Whether the pruning run ``run`` checks (and repairs) its paths as derivations: all but the ``-unchecked`` ones."""
    return not run.endswith(UNCHECKED)


def prune_method(run: str) -> str:
    """The pruner (``--method``) of the pruning run ``run``: ``heuristic`` for ``heuristic-unchecked``."""
    return run.removesuffix(UNCHECKED)


#: Reject reasons of the derivation check: the only ones an unchecked pruner's arm keeps its problems past.
DERIVATION_REJECTS = ("incomplete_derivation", "retracted_kept")


def training_sets(
    traces: list[dict[str, Any]], pruned: dict[str, dict[str, dict[str, Any]]], dirs: dict[str, Path]
) -> tuple[list[str], dict[str, list[str]]]:
    """The problems every arm trains on, and each pruning run's own: ``(common, {run: ids})``, ids in trace order.

    ``pruned`` holds each run's verified records by id, ``dirs`` its prune directory. The common
    problems are those every checked run verified and every unchecked run has a path for; an
    unchecked run also trains on those whose only rejects were the derivation check's
    (``DERIVATION_REJECTS``; module docstring)."""
    runs = list(pruned)
    gates = [m for m in runs if checked(m)]
    common = [t["id"] for t in traces if all(t["id"] in pruned[m] for m in runs)]
    why = {m: _reject_reasons(dirs[m]) for m in gates}

    def passes(i: str, gate: str) -> bool:  # verified by the gate, or rejected by its derivation check alone
        return i in pruned[gate] or why[gate].get(i) in DERIVATION_REJECTS

    ids = {m: common if checked(m) else [t["id"] for t in traces if t["id"] in pruned[m] and all(passes(t["id"], g) for g in gates)]
           for m in runs}  # fmt: skip
    return common, ids


def _reject_reasons(prune_dir: Path) -> dict[str, str]:
    path = prune_dir / "rejects.jsonl"
    return {r["id"]: r["reason"] for r in read_jsonl(path)} if path.exists() else {}


def data_name(method: str) -> str:
    """File stem of a method's training data under ``data/`` (``pruned`` for the heuristic pruner, as ever)."""
    return "pruned" if method == "heuristic" else method


def prune_dirname(method: str) -> str:
    """The prune stage's directory for ``method`` (``prune`` for the heuristic pruner, as ever)."""
    return "prune" if method == "heuristic" else f"prune-{method}"
