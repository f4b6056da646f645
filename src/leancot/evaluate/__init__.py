"""Evaluation: accuracy and token usage of a model on math benchmarks, and paired comparison.

>>> from leancot.evaluate import EvalConfig, run
>>> run(EvalConfig(model="smollm2-135m", benchmarks=["gsm8k"], limit=10, out="runs/eval"))

``leancot eval`` / ``leancot compare`` are the CLI (see ``command.py``). Nothing heavy is
imported here: backends load torch, vLLM or the OpenAI SDK only when chosen.
"""

from leancot.evaluate.config import EvalConfig
from leancot.evaluate.stage import run

__all__ = ["EvalConfig", "run"]
