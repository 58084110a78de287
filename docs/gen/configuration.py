"""docs/configuration.md, from the settings model: every field's variable, what it accepts, default and description."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mobilabel.config import ENV_PREFIX, Settings

from .markdown import banner, table

INTRO = """\
# Configuration

All settings are environment variables with the `MOBILABEL_` prefix. The defaults work embedded
(one process, a SQLite file, no server), and an unset or empty variable takes its default. They
are typed and checked when a command starts (`mobilabel.config.Settings`, with pydantic-settings):
a value that cannot be used stops the command with one line naming each such variable and what it
accepts (exit code 2), before any work. Secrets (`MOBILABEL_API_TOKEN`) come from the environment
only. `.env.example` lists every setting for the compose deployment.

A server database (PostgreSQL) is migrated only on purpose, with `mobilabel db upgrade`; the
embedded SQLite file is brought up to date on first use (see [Operations](operations.md)).

This page is generated from the settings model's field descriptions; a test fails when a setting
has none or this page is out of date.

"""


def variable(name: str) -> str:
    """The environment variable of a settings field."""
    return f"{ENV_PREFIX}{name.upper()}"


def accepts(field: FieldInfo) -> str:
    """What a field's value may be, in words: its type, choices and bounds."""
    words = _type_words(field.annotation)
    bounds = []
    for rule in field.metadata:
        for kind, attribute, sign in ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<")):
            if isinstance(rule, kind):
                bounds.append(f"{sign} {getattr(rule, attribute)}")
    return f"{words} {' and '.join(bounds)}" if bounds else words


def _type_words(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_words(get_args(annotation)[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_words(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is tuple:
        return "list of " + _type_words(get_args(annotation)[0]) + "s"
    names = {Path: "path", int: "integer", float: "number", str: "text", bool: "true or false"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def default(field: FieldInfo) -> str:
    """A field's default as the page shows it; a computed default is described by the field's text."""
    value = field.default
    if value is PydanticUndefined:
        return "(computed: see meaning)"
    if value in ("", None, ()):
        return "(empty)"
    return f"`{value}`"


def page() -> str:
    """The whole configuration page."""
    rows = [
        (f"`{variable(name)}`", accepts(field), default(field), field.description or "")
        for name, field in Settings.model_fields.items()
    ]
    return (
        banner("the field descriptions in `mobilabel/config.py`")
        + INTRO
        + table(("variable", "accepts", "default", "meaning"), rows)
    )
