"""The command-line type of a source: a local path, or an object-store URI (``s3://bucket/prefix``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..object_paths import ObjectUriError, source_path


class SourceType(click.ParamType[Path]):
    """A folder, file or ``s3://`` URI, as ``object_paths.source_path`` reads it (a bad URI is a usage error)."""

    name = "path|s3://bucket/prefix"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        if isinstance(value, Path):
            return value
        try:
            return source_path(str(value))
        except ObjectUriError as exc:
            self.fail(str(exc), param, ctx)


SOURCE = SourceType()
