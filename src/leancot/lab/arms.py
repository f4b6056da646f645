"""The lab's students ("arms"): which traces each is trained on and with which length policy.

An arm is named on the command line (``leancot lab --arms verbose,heuristic,lsp-cot:0.5``):

- ``verbose``: the teacher's traces as written;
- a registered pruner (``heuristic``, ``first-answer``, ``perplexity``, ...): the teacher's traces
  pruned by ``leancot.prune.stage`` with that ``--method``; ``pruned`` is the historical name of
  the ``heuristic`` arm (the default arms keep it, so earlier summaries still compare);
- ``lsp:X`` / ``lsp-cot:X``: the verbose traces under the trainer's lead-span policy at ``X``
  (``lsp`` cuts the whole sequence, ``lsp-cot`` only the reasoning, so the answer stays);
  ``lsp`` alone is the historical ``lsp-cot`` arm at ``LabConfig.lsp``.

Every arm trains the same student on the same verified problems with the same trainer and is
evaluated by the same evaluator; only its data or its length policy differ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from leancot.errors import UsageError

log = logging.getLogger(__name__)

#: The arms of ``leancot lab`` when ``--arms`` is not given (today's three students).
DEFAULT_ARMS = ("verbose", "pruned", "lsp")
#: Pruners the lab names before they are registered: an arm naming one is skipped, not an error.
EXPECTED_PRUNERS = ("perplexity",)
#: Pruners the lab cannot run: they need a teacher endpoint, and the lab is offline.
ONLINE_PRUNERS = ("llm",)


@dataclass(frozen=True)
class Arm:
    """One student: its label, its training data (``verbose`` or a pruner's name) and length policy."""

    name: str
    data: str
    policy: str = "lsp"
    lsp: float = 1.0

    @property
    def kind(self) -> str:
        """``verbose``, ``pruner`` (trained on pruned traces) or ``lsp`` (verbose traces, truncated)."""
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
    if spec in EXPECTED_PRUNERS:
        return f"the {spec!r} pruner is not registered in this leancot (leancot.prune.registry.PRUNERS has {', '.join(pruners)})"
    choices = ["verbose", *_offline(pruners), "lsp:X", "lsp-cot:X"]
    raise UsageError(f"--arms: unknown arm {spec!r}; choose from {', '.join(choices)}")


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
    return arms, skipped


def pruners_of(arms: list[Arm]) -> list[str]:
    """The pruning methods the arms need, in order; the heuristic one when none does.

    The heuristic pruner then still runs, as before there were pruner arms, so that every arm
    trains on the problems whose pruned path the pruner verified (the lab's historical set)."""
    methods = list(dict.fromkeys(a.data for a in arms if a.kind == "pruner"))
    return methods or ["heuristic"]


def data_name(method: str) -> str:
    """File stem of a method's training data under ``data/`` (``pruned`` for the heuristic pruner, as ever)."""
    return "pruned" if method == "heuristic" else method


def prune_dirname(method: str) -> str:
    """The prune stage's directory for ``method`` (``prune`` for the heuristic pruner, as ever)."""
    return "prune" if method == "heuristic" else f"prune-{method}"
