"""Problems and traces: the bundled benchmarks (a plain registry) and user files.

>>> from leancot import data
>>> data.list_benchmarks()
['aime24', 'aime25', 'amc23', 'gsm8k', 'math500']
>>> problems = data.load("gsm8k", split="test", limit=5)   # or data.load("my.jsonl")

The bundled files (under ``files/``, each with its licence beside it) are package data.
"""

from leancot.data.loader import (
    bundled_trace,
    correct_traces,
    files_dir,
    gold_from_solution,
    load,
    load_traces,
    read_records,
    traces_path,
)
from leancot.data.registry import BENCHMARKS, Benchmark, find_benchmark, list_benchmarks

__all__ = [
    "bundled_trace",
    "correct_traces",
    "BENCHMARKS",
    "Benchmark",
    "files_dir",
    "find_benchmark",
    "gold_from_solution",
    "list_benchmarks",
    "load",
    "load_traces",
    "read_records",
    "traces_path",
]
