"""``leancot run RECIPE.yaml``: chain the stages of one experiment from a YAML file.

A recipe names its stages (in the order of the stage table, ``leancot.stages``: generate →
prune → train → eval → report) and their settings, which are exactly the fields of each
stage's config class::

    out: runs/cpu-demo
    stages:
      prune: {input: bundled:r1-traces}
      train: {student: smollm2-135m, lsp: [0.5, 1.0], max_steps: 20}
      eval:  {benchmarks: [gsm8k], limit: 20, compare_to_base: true}
      report: {}

Inputs chain by default, as each stage's declaration says (``Stage.feeds``: prune reads
generate's records, train reads prune's, eval evaluates train's model; ``Stage.collects``:
the report reads every stage's directory); a string may name
another stage's output as ``{prune}``, ``{train}`` ... or the recipe's ``{out}``.
A setting given as a list where the field takes a single value is a sweep: the
stages from the first swept one on run once per combination, each in its own
directory, and the report shows them together. A field that takes a list (train's
inputs) is swept by a list of lists: ``input: [["{prune}:0.25", "{generate}:0.75"],
["{prune}:0.5", "{generate}:0.5"]]`` trains two mixtures.

Everything is checked before any work starts: an unknown stage or key, a sweep
over a key that does not exist, a missing input file — one line naming the key
and the recipe, exit 2. Each stage skips itself when its manifest says its inputs
and config are unchanged; ``--from STAGE`` re-runs from that stage on.

Data the user must provide (a download leancot cannot make: no hub) is declared under a
top-level ``inputs:`` mapping and referred to as ``{name}``::

    inputs:
      stratos: data/Bespoke-Stratos-17k.parquet   # or: --set inputs.stratos=PATH
    stages:
      prune: {input: "{stratos}"}

A declared input that does not exist yet is validated as a stand-in, so ``--dry-run``
checks everything else and names it; ``run`` refuses before any work until it exists.

The leakage guard (``leancot.leakage``) refuses a plan that trains on questions it
evaluates on, unless ``allow_overlap: true`` (or ``--allow-overlap``); its report is
written to ``pipeline.json``.
"""

from __future__ import annotations

import itertools
import logging
import typing
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from leancot import stages
from leancot.config import validation_message
from leancot.errors import UsageError
from leancot.io import split_weight, write_json_atomic

log = logging.getLogger(__name__)

TOP_LEVEL = ("out", "stages", "name", "description", "seed", "inputs", "allow_overlap")

# Declared user inputs that do not exist yet, while a plan is being built (validated as stand-ins).
_MISSING_INPUTS: ContextVar[frozenset[str]] = ContextVar("missing_inputs", default=frozenset())


@dataclass
class Step:
    """One stage of one sweep variant, ready to run."""

    stage: str
    variant: str  # "" for stages shared by every variant
    config: BaseModel
    label: str = ""

    @property
    def out(self) -> Path:
        return Path(self.config.out)


@dataclass
class Plan:
    """Every step of a recipe, validated, in the order they run."""

    recipe: Path
    out: Path
    steps: list[Step] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # declared user inputs, name -> path
    missing_inputs: dict[str, str] = field(default_factory=dict)  # those that do not exist yet
    leakage: Any = None  # leancot.leakage.Report


def read_recipe(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Parse a recipe file and apply ``stage.key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"recipe not found: {path}")
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(recipe, dict) or not isinstance(recipe.get("stages"), dict):
        raise UsageError(f"{path}: a recipe needs a 'stages:' mapping")
    unknown = set(recipe) - set(TOP_LEVEL)
    if unknown:
        raise UsageError(f"{path}: unknown top-level key '{sorted(unknown)[0]}' (allowed: {', '.join(TOP_LEVEL)})")
    for item in overrides or []:
        _apply_override(recipe, item, path)
    inputs = recipe.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str) and v for v in inputs.values()):
        raise UsageError(f"{path}: 'inputs:' must map names to paths")
    clash = set(inputs) & {"out", *stages.recipe_order()}
    if clash:
        raise UsageError(f"{path}: inputs.{min(clash)}: the name is taken by {{out}} or a stage's output dir")
    if not isinstance(recipe.get("allow_overlap", False), bool):
        raise UsageError(f"{path}: allow_overlap must be true or false")
    return recipe


def _apply_override(recipe: dict[str, Any], item: str, path: Path) -> None:
    """``stage.key=value`` or ``stage.a.b=value`` (a nested setting, e.g. prune.teacher.model)."""
    key, sep, value = item.partition("=")
    if sep and key == "allow_overlap":
        recipe["allow_overlap"] = yaml.safe_load(value)
        return
    stage, *names = key.split(".")
    if sep and stage == "inputs" and len(names) == 1 and names[0]:
        recipe["inputs"] = {**(recipe.get("inputs") or {}), names[0]: str(yaml.safe_load(value))}
        return
    if not sep or not names or not all(names):
        raise UsageError(f"--set {item!r}: expected stage.key=value (or stage.key.subkey=value)")
    if stage not in recipe["stages"]:
        raise UsageError(f"--set {item!r}: {path} has no stage '{stage}'")
    node = recipe["stages"][stage] = dict(recipe["stages"][stage] or {})
    for name in names[:-1]:
        child = node.get(name) or {}
        if not isinstance(child, dict):
            raise UsageError(f"--set {item!r}: stages.{stage}.{name} is not a mapping")
        node[name] = child = dict(child)
        node = child
    node[names[-1]] = yaml.safe_load(value)


def plan(
    path: str | Path,
    overrides: list[str] | None = None,
    *,
    from_stage: str | None = None,
    out: Path | None = None,
    allow_overlap: bool | None = None,
) -> Plan:
    """Validate a recipe completely, expand its sweeps into steps and run the leakage guard; nothing runs.

    ``allow_overlap`` (None: the recipe's ``allow_overlap``, default false) lets a plan that
    trains on evaluated questions through, recorded in its leakage report."""
    path = Path(path)
    recipe = read_recipe(path, overrides)
    inputs = {k: str(v) for k, v in (recipe.get("inputs") or {}).items()}
    missing = {k: v for k, v in inputs.items() if not Path(v).exists()}
    token = _MISSING_INPUTS.set(frozenset(str(Path(v).absolute()) for v in missing.values()))
    try:
        result = _plan(path, recipe, inputs, from_stage, out)
    finally:
        _MISSING_INPUTS.reset(token)
    result.inputs, result.missing_inputs = inputs, missing
    from leancot import leakage

    allow = recipe.get("allow_overlap", False) if allow_overlap is None else allow_overlap
    result.leakage = leakage.check(result, allow_overlap=bool(allow))
    return result


def _plan(path: Path, recipe: dict[str, Any], inputs: dict[str, str], from_stage: str | None, out: Path | None) -> Plan:
    if out is not None:
        recipe["out"] = str(out)
    order = stages.recipe_order()
    settings_of = {name: dict(settings or {}) for name, settings in recipe["stages"].items()}
    for name in settings_of:
        if name not in order:
            raise UsageError(f"{path}: unknown stage '{name}' (stages: {', '.join(order)})")
    if from_stage and from_stage not in settings_of:
        raise UsageError(f"--from {from_stage}: {path} has no such stage (it has: {', '.join(settings_of)})")
    out = Path(recipe.get("out") or Path("runs") / path.stem).absolute()
    sweeps = _find_sweeps(settings_of, path)
    result = Plan(recipe=path, out=out)
    first_swept = min((order.index(s) for s, _ in sweeps), default=len(order))
    combos = list(itertools.product(*(values for _, values in sweeps.items()))) or [()]
    seen: set[Path] = set()
    for combo in combos:
        chosen = dict(zip(sweeps, combo))
        tag = "-".join(f"{key}{_short(value)}" for (_, key), value in chosen.items())
        result.variants.append({"variant": tag, **{f"{s}.{k}": v for (s, k), v in chosen.items()}})
        for step in _variant_steps(settings_of, chosen, tag, first_swept, out, path, from_stage, inputs):
            if step.out not in seen:  # stages before the first swept one are shared
                seen.add(step.out)
                result.steps.append(step)
    for name in (n for n in order if n in settings_of and stages.get(n).collects):  # once, last, over every variant
        result.steps.append(_collecting_step(name, settings_of[name], result, out, path, inputs))
    return result


def _find_sweeps(settings_of: dict[str, dict[str, Any]], path: Path) -> dict[tuple[str, str], list[Any]]:
    """(stage, key) -> values, for every list given where the field takes one value."""
    sweeps = {}
    for stage in stages.recipe_order():
        if stage not in settings_of:
            continue
        fields = stages.get(stage).config.model_fields
        for key, value in settings_of[stage].items():
            if key in stages.get(stage).pipeline_keys:
                continue
            if key not in fields:
                raise UsageError(f"{path}: stages.{stage}.{key}: unknown key for stage '{stage}'")
            takes_list = _takes_list(fields[key].annotation)
            if isinstance(value, list) and (not takes_list or (value and all(isinstance(v, list) for v in value))):
                if not value:
                    raise UsageError(f"{path}: stages.{stage}.{key}: a sweep needs at least one value")
                sweeps[(stage, key)] = value
    return sweeps


def _takes_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_takes_list(arg) for arg in typing.get_args(annotation))


def _short(value: Any) -> str:
    """A swept value in a directory name: ``lsp0.5``; a list (a mixture's inputs) its items joined by ``+``,
    ``{prune}:0.25`` as ``prune@0.25``."""
    if isinstance(value, list):
        return "+".join(_short(v).replace("{", "").replace("}", "").replace(":", "@") for v in value)
    return str(value).replace("/", "_").replace(" ", "")


def _variant_steps(settings_of, chosen, tag, first_swept, out, path, from_stage, inputs) -> list[Step]:
    """The steps of one sweep variant, with chained inputs and output dirs filled in."""
    order = stages.recipe_order()
    dirs: dict[str, Path] = {}
    steps = []
    for name in (s for s in order if s in settings_of and not stages.get(s).collects):
        stage = stages.get(name)
        swept_dir = tag and order.index(name) >= first_swept
        dirs[name] = out / tag / name if swept_dir else out / name
        settings = {k: v for k, v in settings_of[name].items() if k not in stage.pipeline_keys}
        settings.update({k: v for (s, k), v in chosen.items() if s == name})
        settings = _fill(settings, dirs, out, stage, path, inputs)
        settings.setdefault("out", str(dirs[name]))
        if from_stage and order.index(name) >= order.index(from_stage) and "overwrite" in stage.config.model_fields:
            settings["overwrite"] = True
        if name == "eval" and settings_of[name].get("compare_to_base"):
            steps.append(_base_eval_step(settings, settings_of, out, path))
        steps.append(Step(name, tag if swept_dir else "", _validate(name, settings, path, out), label=name))
        if name == "eval":
            _check_eval_model(steps[-1].config, out, path)
    return steps


def _check_eval_model(config: BaseModel, root: Path, path: Path) -> None:
    """A model to evaluate must exist now, unless an earlier stage of the recipe writes it."""
    if config.backend == "openai" or _pending(str(config.model), root):
        return
    from leancot import models

    try:
        models.resolve(config.model)
    except UsageError as e:
        raise UsageError(f"{path}: stages.eval.model: {e}") from None


def _fill(
    settings: dict[str, Any], dirs: dict[str, Path], out: Path, stage: stages.Stage, path: Path, inputs: dict[str, str] | None = None
) -> dict[str, Any]:
    """Chain the stage's default inputs from earlier stages (``stage.feeds``) and expand ``{stage}`` /
    ``{out}`` / ``{input name}`` references."""
    names = {**(inputs or {}), "out": str(out), **{k: str(v) for k, v in dirs.items()}}
    filled = {k: _expand(v, names, f"{path}: stages.{stage.name}.{k}") for k, v in settings.items()}
    for feed in stage.feeds:
        if feed.field not in filled and feed.stage in dirs:
            filled[feed.field] = str(dirs[feed.stage] / feed.path)
    if "input" in filled:
        filled["input"] = [_bundled(v) for v in filled["input"]] if isinstance(filled["input"], list) else _bundled(filled["input"])
    return filled


def _bundled(value: Any) -> Any:
    """``bundled:r1-traces`` (with a mixture's ``:WEIGHT`` or not) -> the shipped traces' path."""
    where, weight = split_weight(value) if isinstance(value, str) else (value, None)
    if where != "bundled:r1-traces":
        return value
    from leancot.data import traces_path

    return str(traces_path()) + ("" if weight is None else f":{weight:g}")


def _expand(value: Any, names: dict[str, str], where: str) -> Any:
    if isinstance(value, list):
        return [_expand(v, names, where) for v in value]
    if not isinstance(value, str) or "{" not in value:
        return value
    try:
        return value.format(**names)
    except (KeyError, IndexError, ValueError) as e:
        raise UsageError(f"{where}: cannot resolve {value!r} ({e}); known: {', '.join('{' + n + '}' for n in names)}") from None


def _base_eval_step(settings: dict[str, Any], settings_of: dict[str, Any], out: Path, path: Path) -> Step:
    """The same evaluation of the untuned student, for ``compare_to_base: true``."""
    from leancot import models

    student = (settings_of.get("train") or {}).get("student", "smollm2-135m")
    if isinstance(student, str) and models.built_when_trained(student):
        raise UsageError(
            f"{path}: stages.eval.compare_to_base: the student '{student}' is built at training time; "
            "compare_to_base needs a built-in name or a checkpoint"
        )
    base = dict(settings, model=student, out=str(out / "eval-base"))
    step = Step("eval", "", _validate("eval", base, path, out), label="eval (untuned student)")
    _check_eval_model(step.config, out, path)
    return step


def _collecting_step(name: str, settings: dict[str, Any], result: Plan, out: Path, path: Path, inputs: dict[str, str]) -> Step:
    """A stage that reads every earlier step's output (``Stage.collects``: the report)."""
    stage = stages.get(name)
    settings = _fill(dict(settings), {}, out, stage, path, inputs)
    settings.setdefault("runs", [str(s.out) for s in result.steps])
    settings.setdefault("out", str(out / name))
    return Step(name, "", _validate(name, settings, path, out), label=name)


def _validate(stage: str, settings: dict[str, Any], path: Path, root: Path) -> BaseModel:
    """Build and validate the stage's config before anything runs.

    A path that an earlier stage of this recipe will write does not exist yet: it is
    validated as a stand-in that exists (the recipe file, or its folder), so every
    other setting is still checked now, and the real path goes back into the config.
    """
    cls = stages.get(stage).config
    pending = {k: v for k, v in settings.items() if _pending(v, root)}
    trial = {**settings, **{k: _stand_in(v, path, root) for k, v in pending.items()}}
    try:
        config = cls.model_validate(trial)
    except ValidationError as e:
        raise UsageError(f"{path}: stages.{stage}.{validation_message(e)}") from None
    except UsageError as e:
        raise UsageError(f"{path}: stages.{stage}: {e}") from None
    fields = cls.model_fields  # the real paths, typed as their fields are (no validators: they may not exist yet)
    return config.model_copy(update={k: _typed(fields[k].annotation, v) for k, v in pending.items()})


def _typed(annotation: Any, value: Any) -> Any:
    """``value`` as a field of ``annotation`` holds it, with no validator run (one path for a list field: a list of it)."""
    if _takes_list(annotation) and not isinstance(value, list):
        value = [value]
    return TypeAdapter(annotation).validate_python(value)


def _pending(value: Any, root: Path) -> bool:
    """Whether a setting names a path under the recipe's out dir that does not exist yet,
    or a declared user input not provided yet."""
    if isinstance(value, list):
        return bool(value) and any(_pending(v, root) for v in value)
    if not isinstance(value, str):
        return False
    where = Path(split_weight(value)[0]).absolute()  # a training mixture's input: PATH:WEIGHT
    return (where.is_relative_to(root) and not where.exists()) or str(where) in _MISSING_INPUTS.get()


def _stand_in(value: Any, recipe: Path, root: Path) -> Any:
    """An existing path in place of one not written yet: the recipe file or its folder (a weight kept)."""
    if isinstance(value, list):
        return [_stand_in(v, recipe, root) if _pending(v, root) else v for v in value]
    where, weight = split_weight(value)
    stand_in = str(recipe if Path(where).suffix else recipe.parent)
    return stand_in if weight is None else f"{stand_in}:{weight:g}"


def run_recipe(
    path: str | Path,
    overrides: list[str] | None = None,
    *,
    from_stage: str | None = None,
    out: Path | None = None,
    allow_overlap: bool | None = None,
) -> Path:
    """Run a recipe: plan (validating everything, leakage guard included), then each step in order; returns the out dir."""
    p = plan(path, overrides, from_stage=from_stage, out=out, allow_overlap=allow_overlap)
    if p.missing_inputs:
        name, where = next(iter(p.missing_inputs.items()))
        raise UsageError(f"{p.recipe}: inputs.{name}: {where} does not exist; provide it (--set inputs.{name}=PATH)")
    p.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        p.out / "pipeline.json",
        {
            "recipe": str(p.recipe),
            "variants": p.variants,
            "inputs": p.inputs,
            "leakage": p.leakage.as_dict(),
            "steps": [{"stage": s.stage, "variant": s.variant, "out": str(s.out)} for s in p.steps],
        },
    )
    for step in p.steps:
        run_step(step)
    return p.out


def run_step(step: Step) -> Path:
    """Run one step: its config validated again (its inputs exist now), then its stage's ``run``, which
    owns the lock, fingerprint, resume and manifest. The recipe runner and the lab run every stage so."""
    log.info("run: %s%s -> %s", step.label, f" [{step.variant}]" if step.variant else "", step.out)
    config = type(step.config).model_validate(step.config.model_dump())
    return stages.get(step.stage).run(config)
