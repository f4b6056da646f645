"""The ``train`` stage: distil (pruned) reasoning traces into a student by SFT or logit KD.

- ``data``: render records as prompt + ``<think>`` reasoning ``</think>`` + answer with the
  student's chat template; ``build_example`` masks and truncates (LSP) in one pure function.
- ``losses``: cross-entropy and chunked logit KD (forward/reverse KL, JSD(β), TVD, skew KL).
- ``trainer``: a transformers ``Trainer`` subclass (LoRA or full, frozen teacher, merge on save).
- ``compute``: ``metrics.json`` (tokens, FLOPs, time, memory, loss curve) and ``loss.png``.
- ``stage``: ``run(TrainConfig) -> Path``; ``command``: the ``leancot train`` subcommand.

Importing this package imports no torch; the submodules that need it import it themselves.
"""
