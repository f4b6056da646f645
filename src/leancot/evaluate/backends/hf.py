"""The transformers backend: batched ``generate`` with LEFT padding and the KV cache.

Prompts are sorted by length before batching, so a batch wastes little on padding,
and each finished batch is handed back at once. Left padding keeps every prompt's last
token at the end of the row, where generation continues; the attention mask hides the
pads. Greedy outputs then match batch size 1 except where float order flips a near-tie
(see ``benchmarks/eval_batching.py``). With sampling, a batch shares one torch seed
(the first prompt's), so sampled outputs depend on how prompts were batched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from leancot import models
from leancot.errors import UsageError
from leancot.evaluate.backends.base import Backend, BackendOptions, Generation, Prompt, Sampling, chat_prompt, think_boundary

log = logging.getLogger(__name__)


class HFBackend(Backend):
    """Local generation with ``AutoModelForCausalLM`` (CPU by default, CUDA when visible)."""

    name = "hf"

    def __init__(self, options: BackendOptions):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = str(models.resolve(options.model))
        self.torch = torch
        self.batch_size = options.batch_size
        self.device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if options.threads:
            # OpenMP threads spin while they wait: on cores shared with other work, fewer threads
            # can be several times faster (measured: 1 thread 3.5x faster than 2 on 2 busy cores).
            torch.set_num_threads(options.threads)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        dtype = _dtype(torch, options.dtype, self.device)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        self.eos_ids = _eos_ids(self.model.generation_config, self.tokenizer)
        if not self.eos_ids:
            raise UsageError(f"model {options.model!r} defines no end-of-sequence token; cannot tell a finished answer")
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(self.eos_ids)
        log.info("hf backend: %s on %s (%s), batch size %d", path, self.device, dtype, self.batch_size)

    def prepare(self, messages: list[dict[str, str]], seed: int = 0) -> Prompt:
        return chat_prompt(self.tokenizer, messages, seed)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> Iterator[list[tuple[int, Generation]]]:
        ids = self.tokenizer([p.text for p in prompts], add_special_tokens=False)["input_ids"]
        order = sorted(range(len(prompts)), key=lambda i: len(ids[i]), reverse=True)  # longest first: OOM shows at once
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            outs = self.generate_ids([ids[i] for i in batch], sampling, seed=prompts[batch[0]].seed)
            yield list(zip(batch, outs))

    def generate_ids(self, batch: list[list[int]], sampling: Sampling, seed: int = 0) -> list[Generation]:
        """Generate for one batch of token-id prompts, left-padded into one tensor."""
        torch = self.torch
        width = max(len(x) for x in batch)
        input_ids = torch.tensor([[self.pad_id] * (width - len(x)) + x for x in batch], device=self.device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in batch], device=self.device)
        kwargs = dict(max_new_tokens=sampling.max_new_tokens, do_sample=not sampling.greedy, use_cache=True,
                      pad_token_id=self.pad_id, eos_token_id=sorted(self.eos_ids))  # fmt: skip
        if sampling.greedy:
            kwargs.update(temperature=None, top_p=None, top_k=None)  # silence "ignored flag" warnings
        else:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)  # top-p only, as vLLM
            torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        return [self._finish(row.tolist(), sampling.max_new_tokens) for row in out[:, width:]]

    def _finish(self, new: list[int], max_new_tokens: int) -> Generation:
        """Cut a generated row at its first end token (pads after it are the same id or pad)."""
        stop = next((k for k, t in enumerate(new) if t in self.eos_ids), None)
        if stop is None:
            tokens, reason = new[:max_new_tokens], "length"
        else:
            tokens, reason = new[:stop], "stop"
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        generated = tuple(new[: len(tokens) + 1] if reason == "stop" else tokens)  # the end token was generated too
        return Generation(text=text, finish_reason=reason, completion_tokens=len(generated), token_ids=generated,
                          think_tokens=think_boundary(self.tokenizer, tokens))  # fmt: skip

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()


def _dtype(torch, name: str, device: str):
    if name == "auto":  # float32 on CPU: bf16 matmuls are slow there and change greedy outputs
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    except KeyError:
        raise UsageError(f"unknown dtype {name!r}; use auto, float32, bfloat16 or float16") from None


def _eos_ids(generation_config, tokenizer) -> set[int]:
    """Every id that ends a turn: the generation config's (an int or a list) and the tokenizer's."""
    ids = generation_config.eos_token_id
    ids = set(ids) if isinstance(ids, (list, tuple)) else ({ids} if ids is not None else set())
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids
