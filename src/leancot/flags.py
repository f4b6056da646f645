"""CLI flags made from a stage's config: one place for every setting, its default and its help.

``add_config_command(app, "prune", PruneConfig, run=...)`` builds a typer command whose options
are the config's fields: the name (``lora_r`` -> ``--lora-r``), the type (``Literal`` -> a choice,
``bool`` -> ``--x/--no-x``, ``list`` -> a comma-separated value), the default and the
description. A nested settings model (``PruneConfig.teacher``) is flattened into its own help
panel; its block is passed only when one of its flags is given. The command builds the config
(validation errors are one line, exit 2), calls ``run`` and hands the result to ``then``.
"""

from __future__ import annotations

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


@dataclass
class _Flag:
    param: str  # python parameter name of the generated function
    path: tuple[str, ...]  # where the value goes in the config: ("lora_r",) or ("teacher", "model")
    default: Any
    split: bool = False  # a list field given as "a,b,c"


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
    for field_name, info in _ordered_fields(config_cls):
        if field_name in exclude:
            continue
        if field_name in nested:
            for sub_name, sub_info in _model_of(info.annotation).model_fields.items():
                spec = nested[field_name]
                flag = spec.rename.get(sub_name, spec.prefix + sub_name.replace("_", "-"))
                params.append(_parameter(flag.replace("-", "_"), sub_info, (f"--{flag}",), spec.panel, required=False))
                flags.append(_Flag(flag.replace("-", "_"), (field_name, sub_name), sub_info.default, _is_list(sub_info.annotation)))
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
        elif value is not None and value != f.default:
            blocks.setdefault(f.path[0], {})[f.path[1]] = value
    config.update(blocks)
    return config


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
