"""Turn a user message into the exact text a local model is fed, honouring ``<think>``.

R1-style models reason inside ``<think> ... </think>`` and then answer. Some chat
templates (DeepSeek-R1-Distill's, for one) end the generation prompt with ``<think>\\n``
themselves, so the model's output starts inside the block and holds only ``</think>``.
``render`` detects that and returns the opening as ``think_prefix``; the evaluation
prepends it to the generated text, so that an output cut off while thinking still reads
as "inside <think>" to :func:`leancot.grading.split_think` and gets no answer, instead
of having a draft ``\\boxed{}`` graded as final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

THINK_OPEN = "<think>"


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready for a local model.

    ``text`` is fed to the tokenizer with ``add_special_tokens=False`` (the template already
    wrote any BOS); ``think_prefix`` is what the template opened the reasoning with
    (``"<think>\\n"``) or ``""``.
    """

    text: str
    think_prefix: str = ""


def messages_for(user: str, system: str | None = None) -> list[dict[str, str]]:
    """The chat messages of one evaluation prompt (R1 advises no system prompt: default None)."""
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": user}]


def think_prefix_of(rendered: str) -> str:
    """The trailing ``<think>`` opening of a rendered generation prompt, or ``""``."""
    if not rendered.rstrip().endswith(THINK_OPEN):
        return ""
    return rendered[rendered.rstrip().rfind(THINK_OPEN) :]


def render(tokenizer: Any, user: str, system: str | None = None) -> RenderedPrompt:
    """Render one user message with the tokenizer's chat template (plain text if it has none)."""
    if not getattr(tokenizer, "chat_template", None):
        return RenderedPrompt(text=user + "\n")
    text = tokenizer.apply_chat_template(messages_for(user, system), tokenize=False, add_generation_prompt=True)
    return RenderedPrompt(text=text, think_prefix=think_prefix_of(text))
