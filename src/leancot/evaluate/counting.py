"""Token counts of generated outputs: from the ids the backend generated, not from re-tokenising.

Decoding a generation and tokenising the text again does not give back the generation's
length: a cut-off output of 32 random tokens re-tokenised to 8. So the counts come from the
backend, and reasoning + answer = total always:

- hf and vllm give ``token_ids`` (end token included) and ``think_tokens``, the ids before
  the last ``</think>``: ``reasoning = think_tokens`` and ``answer = total - reasoning``
  (``</think>`` and the end token belong to the answer). No ``</think>`` (cut off while
  thinking, or a model without think tags) means all of it is reasoning.
- an API backend gives only ``completion_tokens`` (``usage.completion_tokens``): that is the
  total, and it is shared between reasoning and answer in the proportion that the counting
  tokenizer gives the two parts of the text (an estimate, marked as such nowhere else).
- a backend that gives neither: the text is counted with the counting tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence

from leancot import grading
from leancot.evaluate.backends.base import Generation
from leancot.tokens import TokenizerSpec, count_tokens_batch


def token_counts(outputs: Sequence[str], gens: Sequence[Generation], tokenizer: TokenizerSpec = None) -> list[tuple[int, int, int]]:
    """``(reasoning_tokens, answer_tokens, total_tokens)`` of each output.

    ``outputs[k]`` is the text graded for ``gens[k]`` (its ``think_prefix`` + the generated
    text); ``tokenizer`` counts text only where the backend gave no ids.
    """
    texts: list[str] = []  # what must be counted, batched into one tokenizer call
    for out, gen in zip(outputs, gens):
        if gen.token_ids is None:
            reasoning, final, _ = grading.split_think(out)
            texts += [gen.text, reasoning, final]
    counted = iter(count_tokens_batch(texts, tokenizer) if texts else [])
    result = []
    for out, gen in zip(outputs, gens):
        if gen.token_ids is not None:
            total = len(gen.token_ids)
            reasoning = total if gen.think_tokens is None else gen.think_tokens
        else:
            text_n, reasoning_n, final_n = next(counted), next(counted), next(counted)
            total = gen.completion_tokens if gen.completion_tokens is not None else text_n
            reasoning = _share(total, reasoning_n, final_n) if grading.THINK_CLOSE in out else total
        result.append((reasoning, total - reasoning, total))
    return result


def _share(total: int, reasoning: int, final: int) -> int:
    """The reasoning's part of ``total`` tokens, in proportion to the two parts' counted tokens."""
    if reasoning + final == 0:
        return 0
    return round(total * reasoning / (reasoning + final))
