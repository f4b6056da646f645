"""What pip would install for ``leancot[train,vllm]`` on a user's machine: torch and vLLM versions.

    python benchmarks/deps_resolve.py [--extras train,vllm]

Not run in CI: it asks the package registry. In a throw-away venv with a current pip it runs
``pip install --dry-run --ignore-installed --report - '.[EXTRAS]'`` (wheels only, so that no
source distribution is built to learn its dependencies) and ``pip index versions vllm``, then
prints the versions pip would take, the newest vLLM release, and how many bytes the machine
received meanwhile (Linux, /proc/net/dev): a dry run reads the wheels' metadata files (PEP 658),
not the multi-GB CUDA wheels themselves.

This machine's own pip settings (config files, local wheel folders, a constraints file that caps
torch) are switched off for the run: the point is what a user's machine would resolve.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pip(venv: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", *args], capture_output=True, text=True, env=env, check=False)


def _received_bytes() -> int:
    """Bytes received on all interfaces so far (0 where /proc/net/dev is missing)."""
    try:
        lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    except OSError:
        return 0
    return sum(int(line.split(":", 1)[1].split()[0]) for line in lines)


def _user_env(tmp_dir: Path) -> dict[str, str]:
    """The environment without this machine's pip settings, with a fresh cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_EXTRA_INDEX_URL")}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_CACHE_DIR": str(tmp_dir / "cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="train,vllm")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="deps_resolve_") as tmp:
        tmp_dir = Path(tmp)
        venv, env = tmp_dir / "venv", _user_env(tmp_dir)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        up = _pip(venv, "install", "--quiet", "--upgrade", "pip", env=env)  # PEP 658 metadata-only resolution
        if up.returncode:
            print(up.stderr, file=sys.stderr)
            return 1
        t0, rx0 = time.perf_counter(), _received_bytes()
        req = f"{ROOT}[{args.extras}]"
        dry = _pip(
            venv,
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary",
            ":all:",
            "--use-feature=fast-deps",
            "--quiet",
            "--report",
            "-",
            req,
            env=env,
        )
        seconds, received = time.perf_counter() - t0, (_received_bytes() - rx0) / 2**20
        if dry.returncode:
            print(dry.stderr[-4000:], file=sys.stderr)
            return 1
        report = json.loads(dry.stdout)
        index = _pip(venv, "index", "versions", "vllm", env=env)
        pip_version = _pip(venv, "--version", env=env).stdout.split()[1]
    taken = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report["install"]}
    newest = re.search(r"^vllm \(([^)]+)\)", index.stdout, re.MULTILINE)
    newest_vllm = newest.group(1) if newest else f"? ({index.stderr.strip() or index.stdout.strip()})"
    print(
        f"pip {pip_version}: pip install --dry-run '.[{args.extras}]' resolved {len(taken)} packages in {seconds:.0f} s; received {received:.0f} MiB"
    )
    for name in ("torch", "vllm", "transformers", "accelerate", "peft"):
        print(f"  {name:<13} {taken.get(name, '(not installed)')}")
    print(f"newest vllm release: {newest_vllm}")
    ok = taken.get("vllm") == newest_vllm
    print("OK: pip takes the newest vLLM" if ok else "NOT the newest vLLM: something in the metadata holds it back")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
