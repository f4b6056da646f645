"""Tiny random models for tests and the CPU lab: built from a config, nothing downloaded.

``make_tiny_model`` writes a Llama-architecture model with random weights and a tokenizer,
loadable with plain ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``. By default
it carries the SmolLM2 tokenizer (so its outputs decode like the real student's; the 49,152 x
hidden embedding then holds most of the parameters); ``vocab_from=None`` gives a 259-token
byte-level tokenizer that needs no fetch at all.
"""

from __future__ import annotations

import os
from pathlib import Path

# ChatML, as SmolLM2-Instruct writes it, minus the default system prompt.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
BYTE_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")  # ids 0, 1, 2, as in SmolLM2


def make_tiny_model(
    out_dir: str | os.PathLike[str],
    *,
    vocab_from: str | os.PathLike[str] | None = "smollm2-135m",
    n_layer: int = 2,
    hidden: int = 64,
    heads: int = 4,
    seed: int = 0,
) -> Path:
    """Write a random Llama model plus tokenizer to ``out_dir`` and return it.

    Args:
        out_dir: where to save (created; existing files are overwritten).
        vocab_from: a built-in model name or a tokenizer dir whose tokenizer to use, or None
            for a byte-level tokenizer (256 bytes + ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``).
        n_layer, hidden, heads: depth, width and attention heads (``hidden % heads == 0``).
        seed: weights are a pure function of the seed and the shape.
    """
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = _byte_tokenizer() if vocab_from is None else _copy_of(vocab_from)
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=n_layer,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=eos, pad_token_id=pad)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _copy_of(vocab_from: str | os.PathLike[str]):
    """A fresh (uncached) tokenizer: we change its template, which must not leak into the shared one."""
    from transformers import AutoTokenizer

    from leancot.tokens import resolve_tokenizer

    return AutoTokenizer.from_pretrained(str(resolve_tokenizer(vocab_from)))


def _byte_tokenizer():
    """A byte-level BPE with no merges: every UTF-8 byte is one token, so any text round-trips."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {tok: i for i, tok in enumerate(BYTE_SPECIAL_TOKENS)}
    for ch in bytes_to_unicode().values():
        vocab[ch] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return chatml_tokenizer(backend)


def chatml_tokenizer(backend):
    """A transformers tokenizer around a ``tokenizers`` backend whose first ids are
    BYTE_SPECIAL_TOKENS: SmolLM2's special tokens and ChatML template."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
        model_max_length=8192,
    )
