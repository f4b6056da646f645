"""Token counting: the one function every stage uses (pruning stats, training data, eval).

Counts use the student's tokenizer, by default the built-in SmolLM2 tokenizer, and never
include special tokens (no BOS/EOS added). They run on the Rust ``tokenizers`` backend in
one batch call, with truncation and padding switched off, so they need no torch and are fast:
see ``benchmarks/`` and the figures in ``count_tokens_batch``'s docstring.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from leancot.errors import UsageError

#: What names a tokenizer: None (the built-in student's), a built-in name such as
#: ``smollm2-135m``, a local dir holding tokenizer.json / tokenizer_config.json (a model
#: dir is fine), a hub id (loaded by transformers), or an already loaded tokenizer.
TokenizerSpec = Union[str, "os.PathLike[str]", Any, None]

DEFAULT_TOKENIZER = "smollm2-135m"


def resolve_tokenizer(name_or_path: str | os.PathLike[str] | None = None) -> Path | str:
    """The directory (or hub id) a tokenizer spec names; built-in names are fetched once."""
    from leancot import models

    text = os.fspath(name_or_path) if name_or_path is not None else DEFAULT_TOKENIZER
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
            return path
        raise UsageError(f"directory {text!r} holds no tokenizer (tokenizer.json or tokenizer_config.json)")
    if models.builtin(text) is not None:
        return models.fetch_tokenizer(text)
    if models.looks_like_hub_id(text):
        return text
    raise UsageError(f"tokenizer {text!r} not found: not a built-in name ({', '.join(models.BUILTINS)}) nor a local directory")


@functools.lru_cache(maxsize=16)
def get_tokenizer(name_or_path: str | os.PathLike[str] | None = None):
    """The transformers tokenizer a spec names (cached: each is loaded once per process)."""
    return _load(str(resolve_tokenizer(name_or_path)))


@functools.lru_cache(maxsize=16)
def _load(location: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(location)


@functools.lru_cache(maxsize=16)
def _counter(name_or_path: str | os.PathLike[str] | None):
    """A private Rust tokenizer with truncation and padding off, or None if there is none."""
    from tokenizers import Tokenizer

    location = resolve_tokenizer(name_or_path)
    if isinstance(location, Path) and (location / "tokenizer.json").is_file():
        # Straight from the file: no transformers import (seconds) just to count tokens.
        counter = Tokenizer.from_file(str(location / "tokenizer.json"))
    else:
        backend = getattr(get_tokenizer(name_or_path), "backend_tokenizer", None)
        if backend is None:
            return None
        # A copy, so that switching these off cannot change the tokenizer other code shares.
        counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()
    return counter


def count_tokens(text: str, tokenizer: TokenizerSpec = None) -> int:
    """Number of tokens in ``text`` under ``tokenizer`` (default: the built-in student's), no special tokens added."""
    return count_tokens_batch([text], tokenizer)[0]


def count_tokens_batch(texts: Sequence[str], tokenizer: TokenizerSpec = None) -> list[int]:
    """Token counts of many texts in one call (parallel in the Rust backend).

    On 2 CPU cores with the SmolLM2 tokenizer this counts ~2.5 million tokens per second in a
    batch (~1 million one text at a time), so 20 traces of 3,000 tokens take ~25 ms.
    """
    texts = list(texts)
    if not texts:
        return []
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("count_tokens_batch expects strings")
    if tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
        counter = _counter(tokenizer)
        if counter is not None:
            # encode_batch_fast (tokenizers >= 0.21) skips the offsets: ~1.45x faster, same ids.
            encode = getattr(counter, "encode_batch_fast", counter.encode_batch)
            return [len(enc.ids) for enc in encode(texts, add_special_tokens=False)]
        tok = get_tokenizer(tokenizer)
    else:
        tok = tokenizer  # an already loaded tokenizer object
    ids = tok(texts, add_special_tokens=False, truncation=False, padding=False)["input_ids"]
    return [len(x) for x in ids]
