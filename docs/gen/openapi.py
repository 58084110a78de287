"""docs/api/openapi.json and docs/api/reference.md, from the app ``mobilabel serve`` runs.

The app is built on a throwaway SQLite database with the default settings, so the description
is the one every server publishes at ``/openapi.json``.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from .markdown import banner, table

METHODS = ("get", "put", "post", "delete", "patch")


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI description of the HTTP API, as ``GET /openapi.json`` answers it."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from mobilabel.api.app import create_app
    from mobilabel.config import Settings

    class Defaults(Settings):
        """The settings given here and the defaults, whatever the shell's MOBILABEL_* variables say."""

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    with tempfile.TemporaryDirectory(prefix="mobilabel-openapi-") as home:
        app = create_app(Defaults(home=Path(home), database_url=f"sqlite:///{home}/openapi.db", allowed_roots=(Path(home),)))
        try:
            return app.openapi()
        finally:
            app.state.runner.close()
            app.state.db.dispose()


def spec_json() -> str:
    """The description as the committed file holds it: indented, keys in the app's order."""
    return json.dumps(spec(), indent=2, ensure_ascii=False) + "\n"


def _schema_words(schema: dict[str, Any]) -> str:
    """A JSON schema in a few words: a named model, a type, or the choices."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_schema_words(part) for part in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{choice}`" for choice in schema["enum"])
    if schema.get("type") == "array":
        return "list of " + _schema_words(schema.get("items", {}))
    kind = schema.get("type", "any")
    bounds = [
        f"{sign} {schema[key]}" for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤")) if key in schema
    ]
    return " ".join([str(kind), *bounds])


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    lines = [f"### `{method.upper()} {path}`", ""]
    if description := operation.get("description"):
        lines += [description.strip(), ""]
    if parameters := operation.get("parameters"):
        rows = [
            (f"`{p['name']}`", p["in"], "yes" if p.get("required") else "no", _schema_words(p.get("schema", {})),
             p.get("description") or p.get("schema", {}).get("description", ""))
            for p in parameters
        ]  # fmt: skip
        lines += ["Parameters:", "", table(("name", "in", "required", "type", "description"), rows)]
    if body := operation.get("requestBody"):
        kinds = [f"`{kind}` {_schema_words(content.get('schema', {}))}" for kind, content in body.get("content", {}).items()]
        lines += ["Request body: " + "; ".join(kinds), ""]
    responses = [
        (
            code,
            answer.get("description", ""),
            "; ".join(_schema_words(c.get("schema", {})) for c in answer.get("content", {}).values()),
        )
        for code, answer in operation.get("responses", {}).items()
    ]
    lines += ["Responses:", "", table(("status", "meaning", "body"), responses)]
    return "\n".join(lines)


def reference_page() -> str:
    """Every operation, grouped by tag, then every schema with its fields."""
    description = spec()
    by_tag: dict[str, list[str]] = {}
    summary_rows: list[tuple[str, str, str]] = []
    for path, operations in description["paths"].items():
        for method in (m for m in METHODS if m in operations):
            operation = operations[method]
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(method, path, operation))
            anchor = f"{method}-{path}".lower().translate(str.maketrans("", "", "/{}."))
            summary_rows.append((f"[`{method.upper()} {path}`](#{anchor})", tag, operation.get("summary", "")))
    parts = [
        banner("the app's OpenAPI description (`mobilabel.api.app.create_app`)"),
        "# HTTP API reference\n\n",
        "Every operation of `mobilabel serve`, from the OpenAPI description the server publishes at "
        "`/openapi.json` (the same file: [openapi.json](openapi.json)). A running server also shows it "
        "interactively at `/docs`. The [HTTP API guide](index.md) explains how the parts fit together.\n\n",
        "## Operations\n\n",
        table(("operation", "group", "summary"), summary_rows),
    ]
    for tag, sections in by_tag.items():
        parts.append(f"\n## {tag.capitalize()}\n\n")
        parts.extend(section + "\n" for section in sections)
    parts.append("\n## Schemas\n")
    for name, schema in description.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        parts.append(f"\n### {name}\n\n")
        if text := schema.get("description"):
            parts.append(" ".join(text.split()) + "\n\n")
        rows = [
            (f"`{field}`", _schema_words(spec_), "yes" if field in required else "no", spec_.get("description", ""))
            for field, spec_ in schema.get("properties", {}).items()
        ]
        parts.append(table(("field", "type", "required", "description"), rows) if rows else "No fields.\n")
    return "".join(parts)
