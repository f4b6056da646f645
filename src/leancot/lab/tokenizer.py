"""The lab students' tokenizer: a small byte-level BPE trained on the lab's own text.

A student trained from scratch in a few minutes must learn to copy the question's numbers
and to do the arithmetic. With one token per byte a trace is ~1,000 tokens and every word
costs the model several positions; with a 49k-token vocabulary (SmolLM2's) the output layer
alone costs more than the rest of the model. A BPE of a few hundred tokens trained on the
teacher's traces makes the common words one token each, while every digit stays a token of
its own (as in Llama 3 and SmolLM2), so arithmetic is digit by digit and any number, seen in
training or not, can be written. Byte-level, so every text round-trips exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from leancot.tiny import BYTE_SPECIAL_TOKENS, chatml_tokenizer


def train_tokenizer(texts: Iterable[str], out_dir: str | os.PathLike[str], vocab_size: int = 512) -> Path:
    """Train a byte-level BPE of ``vocab_size`` tokens on ``texts`` and save it to ``out_dir``.

    The special tokens are SmolLM2's (``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, ids
    0-2) and the chat template is ChatML, so the trainer and the evaluator render the student's
    prompts exactly as they do the real student's.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(BYTE_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: unseen text still encodes
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = chatml_tokenizer(backend)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    return out
