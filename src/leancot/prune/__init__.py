"""Offline DRP pruning: skill taxonomy, step decomposition, per-step actions, checks."""

from leancot.prune.heuristic import prune, prune_trace
from leancot.prune.segment import decompose
from leancot.prune.skills import SKILLS
from leancot.prune.verify import check, numbers_in

__all__ = ["SKILLS", "check", "decompose", "numbers_in", "prune", "prune_trace"]
