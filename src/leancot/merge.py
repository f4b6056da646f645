"""``leancot merge SHARD_DIR... --out DIR``: join the shards of one stage run into one stage output.

A big input is pruned on a cluster as N shards (``--shard i/N``, e.g. one Slurm array task
each); ``merge`` checks that the shards belong together -- the same stage, config (the shard
aside) and input, each complete, each shard once, none missing -- refuses an id that two
shards both hold, and writes ``records.jsonl`` / ``rejects.jsonl`` (shard 0's rows first, then
shard 1's ...) and a manifest whose counts, tokens and usage are the shards' sums. For eval
dirs, ``summary.json`` is computed again over the merged records.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from leancot import manifest, stages
from leancot.errors import UsageError
from leancot.io import write_text_atomic


def merge(dirs: list[Path], out: Path) -> Path:
    """Join the shard directories ``dirs`` into ``out``; returns ``out``."""
    shards = sorted((_read_shard(d) for d in dirs), key=lambda s: s["shard"][0])
    _check_together(shards)
    stage = stages.get(shards[0]["stage"])
    records, rejects = _joined(shards, "records.jsonl", stage.record_key), _joined(shards, "rejects.jsonl", ("id",))
    with manifest.stage_run(out, stage.name, _common_config(shards[0]), shards[0]["inputs"], overwrite=True) as run:
        write_text_atomic(out / "records.jsonl", "".join(records))
        write_text_atomic(out / "rejects.jsonl", "".join(rejects))
        fields = _summed(shards)
        if stage.after_merge is not None:
            fields.update(stage.after_merge(out, shards[0]["config"], fields))
        counts = {"input": len(records) + len(rejects), "records": len(records), "rejects": len(rejects)}
        run.complete(counts, merged_from=[str(s["dir"]) for s in shards], **fields)
    return out


def _read_shard(d: Path) -> dict[str, Any]:
    m = manifest.require_stage(d, *(s.name for s in stages.all_stages() if s.shards), command="merge")
    info = m.get("shard")
    if not info:
        raise UsageError(f"merge: {d} is not a shard (its run had no --shard)")
    shard = (info["index"], info["of"])
    if m.get("status") != "complete":
        raise UsageError(f"merge: shard {shard[0]}/{shard[1]} in {d} is {m.get('status')}; finish it first (re-run its command)")
    return {**m, "dir": d, "shard": tuple(shard)}


def _common_config(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m["config"].items() if k != "shard"}


def _check_together(shards: list[dict[str, Any]]) -> None:
    first = shards[0]
    for s in shards[1:]:
        if s["stage"] != first["stage"] or _common_config(s) != _common_config(first) or s["inputs"] != first["inputs"]:
            raise UsageError(f"merge: {s['dir']} is not a shard of the same run as {first['dir']} (stage, config or input differ)")
    n = first["shard"][1]
    seen = Counter(s["shard"][0] for s in shards)
    twice = [i for i, c in seen.items() if c > 1]
    if twice or any(s["shard"][1] != n for s in shards):
        raise UsageError(f"merge: shard {twice[0] if twice else '?'}/{n} is given twice, or the shards disagree on N")
    missing = sorted(set(range(n)) - set(seen))
    if missing:
        raise UsageError(f"merge: shards {', '.join(f'{i}/{n}' for i in missing)} are missing")


def _joined(shards: list[dict[str, Any]], name: str, key: tuple[str, ...]) -> list[str]:
    """The lines of every shard's file, in shard order; an id in two shards is refused."""
    lines, where = [], {}
    for s in shards:
        path = s["dir"] / name
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []:
            if not line.strip():
                continue
            row = json.loads(line)
            ident = "/".join(str(row.get(k, "")) for k in key)
            if ident in where:
                raise UsageError(f"merge: id {ident!r} is in {where[ident]} and in {s['dir']}: the shards overlap")
            where[ident] = s["dir"]
            lines.append(line)
    return lines


def _summed(shards: list[dict[str, Any]]) -> dict[str, Any]:
    """Reject reasons, methods, tokens, usage and timings added up over the shards."""
    out: dict[str, Any] = {}
    for field in ("reject_reasons", "methods", "tokens", "timings"):
        parts = [s[field] for s in shards if isinstance(s.get(field), dict)]
        if parts:
            out[field] = _add(parts)
    spans = [s["usage"] for s in shards if s.get("usage")]
    if spans:  # the manifest's usage: {run, total}, each summed over the shards
        out["usage"], out["usage_total"] = _add([u["run"] for u in spans]), _add([u["total"] for u in spans])
    if "tokens" in out and out["tokens"].get("before"):
        out["tokens"]["ratio"] = round(out["tokens"]["after"] / out["tokens"]["before"], 4)
    return out


def _add(parts: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for part in parts:
        for k, v in part.items():
            if isinstance(v, dict):
                total[k] = _add([total.get(k, {}), v])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v
    return total
