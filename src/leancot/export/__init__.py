"""``leancot export``: a stage's records in the formats other trainers read.

``run(ExportConfig(dir=..., format=...))`` reads a finished prune, generate or eval output
directory (its ``manifest.json`` says which) and writes one training example per record:

- ``messages``: OpenAI / TRL conversational JSONL, ``{"id", "messages": [system?, user, assistant]}``;
- ``prompt-completion``: TRL's conversational prompt/completion JSONL, ``{"id", "prompt": [system?, user],
  "completion": [assistant]}`` (TRL then puts the loss on the completion only, by default);
- ``sharegpt``: LLaMA-Factory's ShareGPT JSONL, ``{"id", "conversations": [human, gpt], "system"?}``,
  plus its entry in ``dataset_info.json`` beside the file;
- ``alpaca``: ``{"id", "instruction", "input": "", "output", "system"?}``, plus its ``dataset_info.json`` entry;
- ``parquet``: the ``messages`` rows as one Parquet file;
- ``hf-dataset``: the ``messages`` rows as a directory that ``datasets.load_from_disk`` opens.

The user turn is the question. The assistant turn is the reasoning inside the think tags, then
the answer: ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``, the text ``leancot train`` trains on
(``leancot.train.data``), so a TRL or LLaMA-Factory run on an export sees the same sequence. A
pruned path already ends with "The answer is \\boxed{X}": it stays inside the think block (it is how
the path concludes) and the answer turn repeats it (``--answer-style boxed``, default), which is also
what the grader reads after ``</think>``. ``--answer-style as-is`` takes the record's own answer text
instead: a generated or evaluated output's text after ``</think>``, a pruned record's bare answer.
"""

from leancot.export.config import FORMATS, ExportConfig
from leancot.export.run import ExportResult, run

__all__ = ["FORMATS", "ExportConfig", "ExportResult", "run"]
