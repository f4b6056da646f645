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

When pip does not take the newest vLLM, the script shows why (the chain): it dry-runs the newest
vLLM release on its own, then with leancot, and prints pip's own reason. A release that cannot be
installed on its own (a dependency it pins is missing from the index) is not held back by leancot;
the script then names the newest release that does install on its own and checks pip took that.
``--find-links DIR`` adds a folder of wheels (e.g. a stand-in for a wheel the index lacks) to see
what leancot's ranges would take if it were there.
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


def _dry_run(venv: Path, env: dict[str, str], *requirements: str, find_links: str | None = None) -> subprocess.CompletedProcess[str]:
    """``pip install --dry-run --report -`` of ``requirements``: wheels only, metadata only."""
    links = ["--find-links", find_links] if find_links else []
    args = ["install", "--dry-run", "--ignore-installed", "--only-binary", ":all:", "--use-feature=fast-deps", "--quiet", *links]
    return _pip(venv, *args, "--report", "-", *requirements, env=env)


def _why(failed: subprocess.CompletedProcess[str]) -> str:
    """pip's reason, without the version lists it prints with it."""
    lines = [line.strip() for line in failed.stderr.splitlines() if line.startswith("ERROR") or "because" in line or "requires" in line]
    return "; ".join(re.sub(r" \(from versions: [^)]*\)", "", line) for line in lines[-4:]) or failed.stderr.strip()[-400:]


def _versions(index: subprocess.CompletedProcess[str]) -> list[str]:
    found = re.search(r"^Available versions: (.+)$", index.stdout, re.MULTILINE)
    return [v.strip() for v in found.group(1).split(",")] if found else []


def _chain(venv: Path, env: dict[str, str], req: str, versions: list[str], taken: str | None, find_links: str | None) -> bool:
    """Why pip did not take the newest vLLM; True when leancot's metadata is not the reason."""
    for version in versions[:3]:  # newest first
        if version == taken:
            print(f"  vllm {version}, the newest release left, is the one pip takes with leancot")
            return True
        alone = _dry_run(venv, env, f"vllm=={version}", find_links=find_links)
        if alone.returncode:
            print(f"  vllm {version} does not install on its own either (not leancot's metadata): {_why(alone)}")
            continue
        together = _dry_run(venv, env, req, f"vllm=={version}", find_links=find_links)
        if together.returncode:
            print(f"  vllm {version} installs on its own but not with leancot (leancot's metadata holds it back): {_why(together)}")
        else:
            print(f"  vllm {version} installs with leancot when asked for, but pip chose {taken}: the resolver's order, not a conflict")
        return False
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extras", default="train,vllm")
    ap.add_argument("--find-links", default=None, help="Also look for wheels in this folder (a stand-in for a wheel the index lacks).")
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
        dry = _dry_run(venv, env, req, find_links=args.find_links)
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
        if taken.get("vllm") == newest_vllm:
            print("OK: pip takes the newest vLLM")
            return 0
        print(f"NOT the newest vLLM release ({taken.get('vllm')} of {newest_vllm}); why:")
        if _chain(venv, env, req, _versions(index), taken.get("vllm"), args.find_links):
            print("OK for leancot: pip takes the newest vLLM that can be installed at all; the newer release is held back by its own pins")
            return 0
        print("leancot's metadata holds vLLM back: see the line above")
        return 1


if __name__ == "__main__":
    sys.exit(main())
