"""Read run directories into one typed summary that the plots and the page are drawn from.

A run directory is a stage's output (``prune``, ``train``, ``eval``), recognised by the
``stage`` of its ``manifest.json`` or, for an older or partial run without one, by the
files it holds. A directory that is none of these but holds stage directories up to two
levels down (``runs/demo/{prune,train,eval}``, ``sweep/lsp0.5/{train,eval}``) contributes each of them. Every field is read
with a default: a run that is still going, was interrupted or predates a field still
shows what it has; only a directory with nothing to show is an error.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leancot.errors import UsageError

log = logging.getLogger(__name__)

#: The stages the report has a view of (a loader in ``_load``); a run of any other stage of the table
#: (``leancot.stages``: generate, lab, a recipe's own) is listed as it is.
STAGES = ("prune", "train", "eval")


@dataclass
class Run:
    """What every run has: where it is, what it is, and its manifest (empty when there is none)."""

    name: str
    path: Path
    stage: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown" if self.manifest else "no manifest"))

    @property
    def wall_seconds(self) -> float | None:
        return num((self.manifest.get("wall_seconds") or {}).get("total"))

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest.get("config") or {}


@dataclass
class PruneRun(Run):
    """A prune output: counts, token totals, the skill × action table and records for the viewer."""

    records: int = 0
    rejects: int = 0
    verified: int = 0
    complete: int = 0  # paths that are complete derivations (the stage's derivation check)
    tokens_before: int = 0
    tokens_after: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    skills: dict[str, dict[str, int]] = field(default_factory=dict)  # skill -> {action: tokens, steps, after}
    viewer: list[dict[str, Any]] = field(default_factory=list)  # records trimmed for the trace viewer
    answer_positions: dict[str, Any] = field(default_factory=dict)  # AnswerPositions.summary() of the originals, + positions

    @property
    def ratio(self) -> float | None:
        """Tokens after / before (0.3 = the pruned traces are 30% as long)."""
        return self.tokens_after / self.tokens_before if self.tokens_before else None


@dataclass
class TrainRun(Run):
    """A train output: the compute account of ``metrics.json`` and the settings that matter here."""

    metrics: dict[str, Any] = field(default_factory=dict)

    def setting(self, key: str) -> Any:
        """A config value from the manifest, else from ``metrics.json``'s own config, else None."""
        if key in self.config:
            return self.config[key]
        return (self.metrics.get("config") or {}).get(key)

    @property
    def lsp(self) -> float | None:
        return num(self.setting("lsp"))

    @property
    def loss_curve(self) -> list[dict[str, float]]:
        return [c for c in self.metrics.get("loss_curve") or [] if num(c.get("step")) is not None and num(c.get("loss")) is not None]


@dataclass
class EvalRun(Run):
    """An eval output: one summary per benchmark, and the train run that made its model (if found)."""

    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
    model: str = ""
    train: str | None = None  # name of the TrainRun whose model this evaluated


@dataclass
class Collection:
    """Every run found under the directories given, by stage, plus what could not be read."""

    dirs: list[Path]
    prune: list[PruneRun] = field(default_factory=list)
    train: list[TrainRun] = field(default_factory=list)
    eval: list[EvalRun] = field(default_factory=list)
    other: list[Run] = field(default_factory=list)  # stages this report does not draw (generate, ...)
    warnings: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[Run]:
        return [*self.prune, *self.train, *self.eval, *self.other]


# --------------------------------------------------------------------------- discovery


def collect(dirs: list[Path], *, max_records: int = 200, tokenizer: str | None = None) -> Collection:
    """Read every run under ``dirs``; a directory with no run in it is a UsageError."""
    found: list[tuple[Path, str]] = []
    for d in dirs:
        runs = find_runs(Path(d))
        if not runs:
            raise UsageError(
                f"{d}: no run found (no manifest.json, records.jsonl, summary.json or metrics.json here or up to two levels down)"
            )
        found.extend(runs)
    names = _names([p for p, _ in found])
    coll = Collection(dirs=[Path(d) for d in dirs])
    seen: set[Path] = set()
    for (path, stage), name in zip(found, names):
        if path.resolve() in seen:  # the same dir given twice, or as a child and itself
            continue
        seen.add(path.resolve())
        _load(coll, name, path, stage, max_records=max_records, tokenizer=tokenizer)
    link_evals(coll)
    return coll


def find_runs(path: Path, depth: int = 2) -> list[tuple[Path, str]]:
    """``(dir, stage)`` of ``path`` itself if it is a run, else of the runs in its subdirectories,
    ``depth`` levels down at most (``sweep/lsp0.5/{train,eval}`` is two)."""
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    stage = detect_stage(path)
    if stage in STAGES or depth == 0:
        return [(path, stage)] if stage is not None else []
    subs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    children = [run for p in subs for run in find_runs(p, depth - 1)]
    # a dir of another stage (a recipe's own manifest, say) that holds stage dirs stands for them
    return children or ([(path, stage)] if stage is not None else [])


def detect_stage(path: Path) -> str | None:
    """The stage named by the manifest, else guessed from the files; None if not a run dir."""
    manifest = read_json(path / "manifest.json")
    if isinstance(manifest, dict) and manifest.get("stage"):
        return str(manifest["stage"])
    if (path / "summary.json").is_file():
        return "eval"
    if (path / "metrics.json").is_file() or (path / "model").is_dir():
        return "train"
    first = _first_row(path / "records.jsonl")
    if first is not None:
        return "prune" if "steps" in first else "eval" if "benchmark" in first else None
    return None


def _names(paths: list[Path]) -> list[str]:
    """Short unique labels: the dir name, with as many parent names as it takes to be unique."""
    parts = [p.resolve().parts for p in paths]
    depth = {i: 1 for i in range(len(paths))}
    for _ in range(max((len(p) for p in parts), default=0)):
        labels = ["/".join(parts[i][-depth[i] :]) for i in range(len(paths))]
        dupes = {lab for lab in labels if labels.count(lab) > 1}
        if not dupes:
            break
        for i, lab in enumerate(labels):
            if lab in dupes and depth[i] < len(parts[i]):
                depth[i] += 1
    names = ["/".join(parts[i][-depth[i] :]) for i in range(len(paths))]
    # a lone child dir ("prune") reads better with its parent ("demo/prune")
    return [n if "/" in n or len(parts[i]) < 2 or parts[i][-1] not in STAGES else "/".join(parts[i][-2:]) for i, n in enumerate(names)]


# --------------------------------------------------------------------------- loading one run


def _load(coll: Collection, name: str, path: Path, stage: str, *, max_records: int, tokenizer: str | None) -> None:
    manifest = read_manifest(path, coll.warnings)
    if stage == "prune":
        coll.prune.append(load_prune(name, path, manifest, coll.warnings, max_records=max_records, tokenizer=tokenizer))
    elif stage == "train":
        coll.train.append(load_train(name, path, manifest, coll.warnings))
    elif stage == "eval":
        coll.eval.append(load_eval(name, path, manifest, coll.warnings))
    else:
        coll.other.append(Run(name, path, stage, manifest))


def load_prune(
    name: str, path: Path, manifest: dict[str, Any], warnings: list[str], *, max_records: int = 200, tokenizer: str | None = None
) -> PruneRun:
    """A prune dir: totals from its records (the manifest's may be stale mid-run), skills, viewer records."""
    from leancot.manifest import reject_reasons
    from leancot.prune.stats import totals

    records = read_rows(path / "records.jsonl", warnings)
    rejects = read_rows(path / "rejects.jsonl", warnings)
    t = totals(records)
    run = PruneRun(name, path, "prune", manifest, records=t.records, rejects=len(rejects), verified=t.verified, complete=t.complete,
                   tokens_before=t.tokens_before, tokens_after=t.tokens_after, reject_reasons=reject_reasons(rejects))  # fmt: skip
    run.skills = _skill_table(records, tokenizer or (manifest.get("config") or {}).get("tokenizer"), warnings, name)
    run.viewer = [viewer_record(name, r) for r in records[:max_records] if isinstance(r.get("steps", []), list)]
    run.answer_positions = answer_positions(records, warnings, name)
    if len(records) > max_records:
        warnings.append(f"{name}: the trace viewer shows the first {max_records} of {len(records)} records (--max-records)")
    return run


def _skill_table(records: list[dict[str, Any]], tokenizer: str | None, warnings: list[str], name: str) -> dict[str, dict[str, int]]:
    """The skill × action token table (``leancot.prune.stats``), with the run's tokenizer if it still loads."""
    from leancot.prune.stats import skill_action_tokens

    good = [r for r in records if all(isinstance(s, dict) and {"text", "skill", "action"} <= s.keys() for s in r.get("steps") or [])]
    for tok in dict.fromkeys([tokenizer, None]):  # the run's tokenizer, then the built-in one
        try:
            return skill_action_tokens(good, tok)
        except Exception as exc:  # noqa: BLE001 - no tokenizer (offline, moved dir) costs this table, not the report
            warnings.append(f"{name}: cannot count step tokens with tokenizer {tok or 'default'!r} ({exc})")
    return {}


#: Records whose answer position the report computes per prune run (decomposing is ~ms a trace).
MAX_POSITION_RECORDS = 2000


def answer_positions(records: list[dict[str, Any]], warnings: list[str], name: str) -> dict[str, Any]:
    """Where each original trace first derives its final answer (``leancot stats --answer-position``),
    as ``AnswerPositions.summary()`` plus the positions themselves (shares of the reasoning)."""
    from leancot.prune.first_answer import answer_position
    from leancot.prune.stats import AnswerPositions

    positions: list[float] = []
    never = 0
    usable = [r for r in records if isinstance(r.get("original"), str) and r["original"]]
    for r in usable[:MAX_POSITION_RECORDS]:
        try:
            at = answer_position(r["original"], _str(r.get("answer")), str(r.get("question") or ""))
        except Exception as exc:  # noqa: BLE001 - an odd record costs its position, not the report
            warnings.append(f"{name}: no answer position for record {r.get('id')!r} ({exc})")
            continue
        if at is None:
            never += 1
        else:
            positions.append(at)
    if not positions and not never:
        return {}
    if len(usable) > MAX_POSITION_RECORDS:
        warnings.append(f"{name}: answer positions are of the first {MAX_POSITION_RECORDS} of {len(usable)} records")
    return {**AnswerPositions(positions, never).summary(), "positions": sorted(positions)}


def lsp_series(coll: Collection) -> list[tuple[str | None, list[TrainRun]]]:
    """The train runs that differ in their lead-span proportion alone: ``(policy, runs by lsp)`` per curve.

    Two runs share a curve when their settings (but ``lsp`` and where they write) and their training
    data (the manifest's input hashes, else the input path) are the same. A run that keeps whole
    sequences (``lsp`` 1.0 under the ``lsp`` or ``lsp-cot`` policy, which then coincide) is the
    full-length end of every curve of its settings; a curve needs two proportions."""
    keyed: dict[str, list[tuple[str | None, TrainRun]]] = {}
    for t in coll.train:
        if t.lsp is not None:
            key, policy = _lsp_key(t)
            keyed.setdefault(key, []).append((policy, t))
    series = []
    for runs in keyed.values():
        full = [t for policy, t in runs if t.lsp == 1.0 and policy in _FULL_POLICIES]
        policies = dict.fromkeys(policy for policy, t in runs if t not in full)
        for policy in policies:
            curve = sorted([*full, *(t for p, t in runs if p == policy and t not in full)], key=lambda t: t.lsp or 0.0)
            if len({t.lsp for t in curve}) >= 2:
                series.append((policy, curve))
    return series


#: Settings that do not make two runs differ: where they write, resuming, checkpointing, devices.
_NOT_SETTINGS = {"lsp", "policy", "out", "overwrite", "allow_empty", "input", "save_steps", "save_total_limit", "teacher_device"}
#: Policies under which ``lsp`` 1.0 trains on the whole sequence (None: a run too old to say).
_FULL_POLICIES = {"lsp", "lsp-cot", "none", None}


def _lsp_key(t: TrainRun) -> tuple[str, str | None]:
    config = t.config or (t.metrics.get("config") or {})
    settings = {k: v for k, v in config.items() if k not in _NOT_SETTINGS}
    inputs = t.manifest.get("inputs")
    data = sorted(inputs.values()) if isinstance(inputs, dict) and inputs else config.get("input")
    policy = config.get("policy")
    return json.dumps({"settings": settings, "data": data}, sort_keys=True, default=str), None if policy is None else str(policy)


def lsp_label(t: TrainRun) -> dict[str, str]:
    """What tells one LSP curve from another: its settings, policy and training data (by file name)."""
    config = t.config or (t.metrics.get("config") or {})
    label = {k: str(v) for k, v in config.items() if k not in _NOT_SETTINGS}
    inputs = t.manifest.get("inputs")
    source = next(iter(inputs), None) if isinstance(inputs, dict) and inputs else config.get("input")
    label["data"] = Path(str(source)).name if source else "?"
    return label


def viewer_record(run: str, r: dict[str, Any]) -> dict[str, Any]:
    """A prune record cut down to what the trace viewer shows (steps as compact lists)."""
    steps = [[i if num(s.get("index")) is None else int(s["index"]), str(s.get("skill", "")), str(s.get("action", "keep")), str(s.get("text", "")), _str(s.get("rewritten"))]
             for i, s in enumerate(r.get("steps") or []) if isinstance(s, dict)]  # fmt: skip
    out = {
        "run": run, "id": str(r.get("id", "")), "question": str(r.get("question", "")), "gold": _str(r.get("gold_answer")),
        "answer": _str(r.get("answer")), "before": num(r.get("tokens_before")), "after": num(r.get("tokens_after")),
        "verified": bool(r.get("verified")), "method": _str(r.get("method")), "steps": steps, "pruned": str(r.get("pruned", "")),
    }  # fmt: skip
    if not steps:  # no decomposition to show: the original as one block
        out["original"] = str(r.get("original", ""))
    return out


def load_train(name: str, path: Path, manifest: dict[str, Any], warnings: list[str]) -> TrainRun:
    """A train dir: ``metrics.json`` (empty while training or if the run failed)."""
    metrics = read_json(path / "metrics.json")
    if metrics is None and (path / "metrics.json").exists():
        warnings.append(f"{name}: metrics.json is not valid JSON")
    if metrics is None:
        metrics = (manifest.get("metrics") or {}) if isinstance(manifest.get("metrics"), dict) else {}
    return TrainRun(name, path, "train", manifest, metrics=metrics if isinstance(metrics, dict) else {})


def load_eval(name: str, path: Path, manifest: dict[str, Any], warnings: list[str]) -> EvalRun:
    """An eval dir: ``summary.json``, or a summary computed from ``records.jsonl`` when it is missing."""
    summary = read_json(path / "summary.json")
    benchmarks = summary.get("benchmarks") if isinstance(summary, dict) else None
    config = manifest.get("config") or (summary.get("decoding") if isinstance(summary, dict) else None) or {}
    if not isinstance(benchmarks, dict):
        benchmarks = summarize_records(read_rows(path / "records.jsonl", warnings), config)
    elif any(isinstance(s, dict) and "budget_curve" not in s for s in benchmarks.values()):
        benchmarks = add_budget_figures(benchmarks, read_rows(path / "records.jsonl", warnings), config)
    model = (summary or {}).get("model") if isinstance(summary, dict) else None
    model = model or (manifest.get("config") or {}).get("model") or ""
    return EvalRun(
        name, path, "eval", manifest, benchmarks={str(k): v for k, v in benchmarks.items() if isinstance(v, dict)}, model=str(model)
    )


def add_budget_figures(benchmarks: dict[str, Any], records: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """A summary written before the budget figures existed, with them computed from the records (where they allow)."""
    from leancot.evaluate.budget import budget_of, budget_summary

    out = dict(benchmarks)
    for bench, s in benchmarks.items():
        rs = [r for r in records if str(r.get("benchmark")) == bench]
        if isinstance(s, dict) and "budget_curve" not in s and rs:
            try:
                out[bench] = {**budget_summary(rs, budget_of(config, bench)), **s}
            except (KeyError, TypeError, ValueError):  # an older or partial record: no budget figures
                pass
    return out


def summarize_records(records: list[dict[str, Any]], config: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Per-benchmark summary from eval records, via the evaluator's own function when the fields are all there
    (``config``: the eval's, for each benchmark's ``max_new_tokens``)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get("benchmark", "unknown")), []).append(r)
    out = {}
    for bench, rs in groups.items():
        try:
            from leancot.evaluate.budget import budget_of
            from leancot.evaluate.metrics import summarize_benchmark

            out[bench] = summarize_benchmark(rs, max_tokens=budget_of(config or {}, bench))
        except (ImportError, KeyError, TypeError):  # an older or partial record: the essentials only
            tokens = [t for r in rs if (t := num(r.get("total_tokens"))) is not None]
            out[bench] = {"problems": len({r.get("problem_id") for r in rs}), "records": len(rs),
                          "accuracy": sum(bool(r.get("correct")) for r in rs) / len(rs),
                          "mean_tokens": sum(tokens) / len(tokens) if tokens else None}  # fmt: skip
    return out


def link_evals(coll: Collection) -> None:
    """Find the train run behind each eval run: its model path, else the one train dir beside it."""
    by_path = {}
    for t in coll.train:
        by_path[t.path.resolve()] = t.name
        by_path[(t.path / "model").resolve()] = t.name
    for e in coll.eval:
        if e.model:
            for base in (Path.cwd(), e.path.parent, e.path.parent.parent):
                hit = by_path.get((base / e.model).resolve())
                if hit:
                    e.train = hit
                    break
        if e.train is None:
            siblings = [t for t in coll.train if t.path.parent.resolve() == e.path.parent.resolve()]
            if len(siblings) == 1:
                e.train = siblings[0].name


# --------------------------------------------------------------------------- tolerant readers


def read_manifest(path: Path, warnings: list[str]) -> dict[str, Any]:
    """A run's manifest in the one schema (``leancot.manifest.read``); empty, with a warning, when it cannot be read."""
    from leancot import manifest
    from leancot.errors import UsageError

    try:
        return manifest.read(path) or {}
    except UsageError as e:
        warnings.append(str(e))
        return {}


def read_json(path: Path) -> Any:
    """A JSON file's content, or None if it is missing or unreadable (a run may be half-written)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_rows(path: Path, warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a bad line (e.g. the torn last line of a running stage) is skipped and noted."""
    if not path.is_file():
        return []
    rows, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    if bad and warnings is not None:
        warnings.append(f"{path}: skipped {bad} unreadable line(s)")
    return rows


def _first_row(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            return row if isinstance(row, dict) else None
    return None


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def num(v: Any) -> float | None:
    """A finite number or None (JSON may hold null, a string or NaN where a number was expected)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if v == v and abs(v) != float("inf") else None
