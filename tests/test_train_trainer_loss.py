"""DistillTrainer's loss from hidden states equals its loss on full logits, with tied heads, LoRA and KD."""

import pytest
import torch
from transformers import AutoModelForCausalLM, TrainingArguments

from leancot.tiny import make_tiny_model
from leancot.train.config import TrainConfig
from leancot.train.trainer import DistillTrainer, add_lora, head_weight, last_hidden_states


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    return make_tiny_model(tmp / "s", vocab_from=None, n_layer=2, hidden=32, seed=0), make_tiny_model(
        tmp / "t", vocab_from=None, n_layer=1, hidden=48, seed=1
    )


def _batch(vocab):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (2, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    labels = ids.clone()
    labels[:, :4] = -100
    labels[1, 9:] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _trainer(tmp_path, student, teacher_model, **cfg):
    config = TrainConfig(input=__file__, out=tmp_path, student="tiny:2x32", **cfg)
    args = TrainingArguments(output_dir=str(tmp_path / "ckpt"), use_cpu=True, report_to="none")
    return DistillTrainer(model=student, args=args, loss_config=config, teacher=teacher_model)


def _loss_and_grads(trainer, model, batch):
    model.zero_grad()
    loss = trainer.compute_loss(model, batch)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("lora", [False, True])
@pytest.mark.parametrize("kd", ["jsd", "srkl", None])
def test_fused_loss_equals_the_full_logits_loss_in_value_and_every_gradient(tiny_dirs, tmp_path, lora, kd):
    student = AutoModelForCausalLM.from_pretrained(tiny_dirs[0])
    assert student.config.tie_word_embeddings and student.lm_head.weight is student.model.embed_tokens.weight
    teacher = AutoModelForCausalLM.from_pretrained(tiny_dirs[1]) if kd else None
    cfg = {"teacher": "tiny:1x48", "kd": kd, "kd_ratio": 0.6, "temperature": 2.0} if kd else {}
    if lora:
        student = add_lora(student, TrainConfig(input=__file__, out=tmp_path, lora_r=4))
    batch = _batch(student.config.vocab_size)
    fused = _trainer(tmp_path, student, teacher, **cfg)
    plain = _trainer(tmp_path, student, teacher, fused_loss=False, **cfg)
    assert fused._can_fuse(student) and not plain._can_fuse(student)
    v_fused, g_fused = _loss_and_grads(fused, student, batch)
    v_plain, g_plain = _loss_and_grads(plain, student, batch)
    assert abs(v_fused - v_plain) <= 1e-5
    assert g_fused.keys() == g_plain.keys() and g_fused
    for name in g_fused:
        assert (g_fused[name] - g_plain[name]).abs().max().item() <= 1e-5, name


def test_last_hidden_states_are_what_the_head_projects(tiny_dirs):
    model = AutoModelForCausalLM.from_pretrained(tiny_dirs[0])
    batch = _batch(model.config.vocab_size)
    hidden = last_hidden_states(model, batch)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(hidden @ head_weight(model).T, logits, rtol=1e-5, atol=1e-5)


def test_a_lora_wrapped_head_falls_back_to_full_logits(tiny_dirs, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_dirs[0])
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    wrapped = add_lora(model, TrainConfig(input=__file__, out=tmp_path, lora_r=4, lora_targets="q_proj,lm_head"))
    assert head_weight(wrapped) is None
    trainer = _trainer(tmp_path, wrapped, None)
    assert not trainer._can_fuse(wrapped)
    assert torch.isfinite(trainer.compute_loss(wrapped, _batch(model.config.vocab_size)))
