"""CLI flags made from a stage's config: one place for every setting, its default and its help.

``add_config_command(app, "prune", PruneConfig, run=...)`` builds a typer command whose options
are the config's fields: the name (``lora_r`` -> ``--lora-r``), the type (``Literal`` -> a choice,
``bool`` -> ``--x/--no-x``, ``list`` -> a comma-separated value), the default and the
description. A nested settings model (``PruneConfig.teacher``) is flattened into its own help
panel; its block is passed only when one of its flags is given. A flag name that several nested
models share (``--scorer`` of ``perplexity`` and ``step_entropy``) is one flag in a panel of its own;
each block says when it is the chosen one (``Nested.when``: ``("method", "perplexity")``) and the
value goes to that block alone. The command builds the config (validation errors are one line,
exit 2), calls ``run`` and hands the result to ``then``.
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from leancot.cli_utils import handle_errors
from leancot.config import StageConfig, validation_message
from leancot.errors import UsageError


@dataclass
class Nested:
    """How a nested settings model's fields become flags."""

    prefix: str = ""  # flag name prefix, e.g. "teacher-" (empty: the field names as they are)
    panel: str = ""  # help panel title
    rename: dict[str, str] = field(default_factory=dict)  # nested field -> flag name (without --)
    when: tuple[str, str] | None = None  # (field, value): the block a shared flag fills when the config's field has this value

    def flag(self, sub_name: str) -> str:
        return self.rename.get(sub_name, self.prefix + sub_name.replace("_", "-"))


@dataclass
class _Flag:
    param: str  # python parameter name of the generated function
    path: tuple[str, ...]  # where the value goes in the config: ("lora_r",) or ("teacher", "model")
    default: Any
    split: bool = False  # a list field given as "a,b,c"
    when: tuple[str, str] | None = None  # a shared flag: (field, value) under which it fills this path


def add_config_command(
    app: typer.Typer,
    name: str,
    config_cls: type[BaseModel],
    *,
    run: Callable[[Any], Any],
    then: Callable[[Any, Any], None] | None = None,
    arguments: tuple[str, ...] = (),
    decls: dict[str, tuple[str, ...]] | None = None,
    nested: dict[str, Nested] | None = None,
    exclude: tuple[str, ...] = (),
    help: str | None = None,
) -> Callable[..., None]:
    """Register ``name`` on ``app`` with one option per field of ``config_cls``; returns the command."""
    decls, nested = decls or {}, nested or {}
    params, flags = [], []
    shared = _shared(config_cls, nested, exclude)
    for field_name, info in _ordered_fields(config_cls):
        if field_name in exclude:
            continue
        if field_name in nested:
            spec = nested[field_name]
            for sub_name, sub_info in _model_of(info.annotation).model_fields.items():
                flag = spec.flag(sub_name)
                owners = shared.get(flag)
                if owners is None:
                    params.append(_parameter(flag.replace("-", "_"), sub_info, (f"--{flag}",), spec.panel, required=False))
                elif owners[0][0] == field_name:
                    params.append(_shared_parameter(flag, owners, nested))
                when = spec.when if owners else None
                flags.append(_Flag(flag.replace("-", "_"), (field_name, sub_name), sub_info.default, _is_list(sub_info.annotation), when))
            continue
        panel = "Run" if field_name in getattr(config_cls, "RUN_FIELDS", ()) else None
        params.append(_parameter(field_name, info, decls.get(field_name), panel, argument=field_name in arguments))
        flags.append(_Flag(field_name, (field_name,), info.default, _is_list(info.annotation)))

    @handle_errors
    def command(**values: Any) -> None:
        try:
            config = config_cls.model_validate(_config_dict(flags, values))
        except ValidationError as e:
            raise UsageError(_flag_message(e, flags)) from None
        result = run(config)
        if then is not None:
            then(config, result)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = help or (config_cls.__doc__ or "").strip()
    command.__name__ = name.replace("-", "_")
    app.command(name, help=help, cls=PanelledCommand)(command)
    return command


def _shared(config_cls: type[BaseModel], nested: dict[str, Nested], exclude: tuple[str, ...]) -> dict[str, list[tuple[str, FieldInfo]]]:
    """Flag name -> ``(block, field info)`` of every nested block that has it, for the names two or more share."""
    owners: dict[str, list[tuple[str, FieldInfo]]] = {}
    for field_name, info in _ordered_fields(config_cls):
        if field_name in nested and field_name not in exclude:
            for sub_name, sub_info in _model_of(info.annotation).model_fields.items():
                owners.setdefault(nested[field_name].flag(sub_name), []).append((field_name, sub_info))
    shared = {flag: blocks for flag, blocks in owners.items() if len(blocks) > 1}
    for flag, blocks in shared.items():
        if any(nested[b].when is None for b, _ in blocks):
            raise TypeError(f"--{flag} is shared by {', '.join(b for b, _ in blocks)}: each needs Nested.when")
    return shared


def _shared_parameter(flag: str, owners: list[tuple[str, FieldInfo]], nested: dict[str, Nested]) -> inspect.Parameter:
    """One flag for the blocks in ``owners``: no default of its own (each block keeps its model's), a help
    that names each block's default, in the panel ``--method a / b``."""
    whens = [nested[b].when for b, _ in owners]
    labels = [when[1] for when in whens if when]
    helps = {info.description or "" for _, info in owners}
    text = (
        helps.pop()
        if len(helps) == 1
        else "; ".join(f"{label}: {(info.description or '').rstrip('.')}" for label, (_, info) in zip(labels, owners)) + "."
    )
    defaults = [info.default for _, info in owners]
    if len(set(map(repr, defaults))) == 1:
        text += f"  [default: {defaults[0]}]" if defaults[0] is not None else ""
    else:
        text += "  [default: " + ", ".join(f"{label} {d}" for label, d in zip(labels, defaults)) + "]"
    info = copy.copy(owners[0][1])
    info.default, info.description = None, text
    panel = f"--{whens[0][0].replace('_', '-')} {' / '.join(labels)}" if whens[0] else ""
    return _parameter(flag.replace("-", "_"), info, (f"--{flag}",), panel, required=False)


class PanelledCommand(typer.core.TyperCommand):
    """Plain help (wrapped to the terminal, no flag cut short, no placeholder on a boolean flag),
    with the options grouped by their panel."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                title = "Arguments" if param.param_type_name == "argument" else getattr(param, "rich_help_panel", None) or "Options"
                sections.setdefault(title, []).append(record)
        order = ["Arguments", "Options", *(t for t in sections if t not in ("Arguments", "Options", "Run")), "Run"]
        for title in (t for t in order if t in sections):
            rows = sections[title]
            with formatter.section(title):
                formatter.write_dl(rows)


def _flag_message(e: ValidationError, flags: list[_Flag]) -> str:
    """An invalid value, named by the flag the user typed (``--seeds: ...``)."""
    first = e.errors()[0]
    loc = tuple(str(p) for p in first["loc"])
    flag = next((f for f in flags if loc[: len(f.path)] == f.path), None)
    if flag is None:
        return validation_message(e)
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return f"--{flag.param.replace('_', '-')}: {msg}"


def _ordered_fields(config_cls: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """The stage's own fields first, then the run fields (out, overwrite, allow_empty)."""
    run_fields = set(getattr(config_cls, "RUN_FIELDS", ()))
    items = list(config_cls.model_fields.items())
    own = [(n, f) for n, f in items if n not in run_fields or n == "out"]
    out = [(n, f) for n, f in own if n == "out"]
    return out + [(n, f) for n, f in own if n != "out"] + [(n, f) for n, f in items if n in run_fields and n != "out"]


def _config_dict(flags: list[_Flag], values: dict[str, Any]) -> dict[str, Any]:
    """Flag values -> the config's nested dict; a nested block only when one of its flags was given."""
    config: dict[str, Any] = {}
    blocks: dict[str, dict[str, Any]] = {}
    for f in flags:
        value = values[f.param]
        if f.split and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if len(f.path) == 1:
            if value is not None or f.default is None:
                config[f.path[0]] = value
        elif value is not None and _chosen(f, flags, values) and value != f.default:
            blocks.setdefault(f.path[0], {})[f.path[1]] = value
    config.update(blocks)
    return config


def _chosen(f: _Flag, flags: list[_Flag], values: dict[str, Any]) -> bool:
    """Whether a given flag's value goes to ``f.path``: always for a flag of one block; for a shared one, when
    ``f``'s block is the chosen one (``UsageError`` when none of its blocks is)."""
    if f.when is None:
        return True
    field, value = f.when
    if values.get(field) == value:
        return True
    whens = [g.when[1] for g in flags if g.param == f.param and g.when]
    if values.get(field) not in whens:
        raise UsageError(
            f"--{f.param.replace('_', '-')} is for --{field.replace('_', '-')} {' or '.join(whens)}; this run's {field} is {values.get(field)}"
        )
    return False


def _parameter(
    name: str, info: FieldInfo, decls: tuple[str, ...] | None, panel: str | None, *, argument: bool = False, required: bool | None = None
) -> inspect.Parameter:
    """One ``inspect.Parameter`` carrying its typer Option / Argument."""
    annotation = _cli_type(info.annotation)
    if argument and _is_list(info.annotation):
        annotation = list[_element_type(info.annotation)]  # a list argument takes several values: leancot report runs/*
    has_default = info.default is not PydanticUndefined
    if required is False and not has_default:
        has_default = True  # nested: its block is validated as a whole, where a missing key is named
    default = info.default if info.default is not PydanticUndefined else None
    if isinstance(default, list):
        default = ",".join(str(v) for v in default)
    help_text = info.description or ""
    if argument:
        marker: Any = typer.Argument(help=help_text, show_default=False, metavar=name.upper())
    else:
        names = decls or (f"--{name.replace('_', '-')}",)
        marker = typer.Option(*names, help=help_text, rich_help_panel=panel, show_default=has_default and default is not None)
    if annotation is bool and default is None:
        annotation = bool | None
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[annotation, marker],
        default=default if has_default else inspect.Parameter.empty,
    )


def _cli_type(annotation: Any) -> Any:
    """The type typer parses: Annotated metadata stripped, lists as comma-separated text."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _cli_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = _cli_type(args[0]) if len(args) == 1 else str
        return inner | None
    if origin in (list, tuple, set):
        return str
    if origin is Literal:
        return annotation
    if annotation in (str, int, float, bool, Path):
        return annotation
    return str


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return origin in (list, set)  # a tuple is one value with its own syntax (a shard "i/N")


def _element_type(annotation: Any) -> Any:
    """``list[Path] | None`` -> ``Path``."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) in (list, set):
            return _cli_type(typing.get_args(arg)[0])
    return str


def _model_of(annotation: Any) -> type[BaseModel]:
    """The settings model inside ``X | None``."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    raise TypeError(f"{annotation} is not a settings model")


__all__ = ["Nested", "StageConfig", "add_config_command"]
