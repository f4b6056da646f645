"""TRL's ``SFTTrainer`` trains on leancot's exports: one optimizer step on a tiny random model, with
the loss on exactly the assistant turn (``messages`` + ``assistant_only_loss``) or the completion
(``prompt-completion``, TRL's default ``completion_only_loss``)."""

from __future__ import annotations

import pytest

from leancot.export import ExportConfig, run
from leancot.io import read_jsonl

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
torch = pytest.importorskip("torch")

from test_export import pruned, write_stage  # noqa: E402

# TRL's SFTConfig sets transformers' old `gradient_checkpointing` argument itself, which transformers 5 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")

# ChatML as the tiny model has it (leancot.tiny), with TRL's {% generation %} markers around what the
# assistant writes, its end-of-turn token included, so that assistant_only_loss can find it.
CHATML_WITH_GENERATION = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trl")
    src = write_stage(tmp / "prune", "prune", [pruned(i) for i in range(1, 5)])
    return {
        fmt: run(ExportConfig(dir=src, format=fmt, out=tmp / f"{fmt}.jsonl", system_prompt="Be brief.")).out
        for fmt in ("messages", "prompt-completion")
    }


def _one_step(model_dir, path, tmp_path, **config):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tokenizer.chat_template = CHATML_WITH_GENERATION
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = trl.SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, learning_rate=1e-2, bf16=False,
                         use_cpu=True, report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True, **config)  # fmt: skip
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    trainer.train()
    changed = any(not torch.equal(before[n], p) for n, p in model.named_parameters())
    return trainer, tokenizer, changed


def _trained_text(tokenizer, example) -> str:
    """The tokens that carry loss, decoded."""
    return tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label != -100])


def test_messages_export_trains_on_exactly_the_assistant_turn(tiny_byte_model_dir, exported, tmp_path):
    trainer, tokenizer, changed = _one_step(tiny_byte_model_dir, exported["messages"], tmp_path, assistant_only_loss=True)
    assert trainer.state.global_step == 1 and changed
    rows = read_jsonl(exported["messages"])
    for row, example in zip(rows, trainer.train_dataset):
        assistant = row["messages"][-1]["content"]
        assert assistant.startswith("<think>\n") and "\n</think>\n\nThe answer is \\boxed{" in assistant
        assert _trained_text(tokenizer, example) == assistant + "<|im_end|>"


def test_prompt_completion_export_trains_on_the_completion(tiny_byte_model_dir, exported, tmp_path):
    trainer, tokenizer, changed = _one_step(tiny_byte_model_dir, exported["prompt-completion"], tmp_path)
    assert trainer.state.global_step == 1 and changed
    for row, example in zip(read_jsonl(exported["prompt-completion"]), trainer.train_dataset):
        # the completion as the template renders it after the generation prompt: the turn, its end, the newline
        assert _trained_text(tokenizer, example) == row["completion"][0]["content"] + "<|im_end|>\n"
        assert "Be brief." in tokenizer.decode(example["input_ids"])  # the system turn is in the prompt
