"""Streaming result rows out of the database as CSV, JSON Lines or a JSON array, in constant memory.

Rows come through a server-side cursor (PostgreSQL) or SQLite's lazy cursor, a few
thousand at a time, and leave as text chunks of about 64 KB; nothing holds the whole
result. Used by `mobilabel results` and the API's export alike, so both write the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select

from .storage import Database
from .storage.tables import Result

RESULT_COLUMNS = ("image_path", "label", "confidence", "status", "error", "model_version_id", "job_id", "top_k")
EXPORT_FORMATS = ("csv", "jsonl", "json")
_ROWS_PER_FETCH = 2000
_CHUNK_CHARS = 64 * 1024


def stream_rows(db: Database, statement: Select[Any], columns: Sequence[str] = RESULT_COLUMNS) -> Iterator[dict[str, Any]]:
    """The rows of ``statement`` (a SELECT of results), only ``columns``, fetched in batches."""
    narrowed = statement.with_only_columns(*(getattr(Result, c) for c in columns))
    with db.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=_ROWS_PER_FETCH).execute(narrowed)
        for row in result:
            yield dict(zip(columns, row, strict=True))


def export_chunks(rows: Iterator[dict[str, Any]], fmt: str, columns: Sequence[str] = RESULT_COLUMNS) -> Iterator[str]:
    """``rows`` as text in ``fmt`` (one of ``EXPORT_FORMATS``), in chunks of about 64 KB.

    CSV: a header, then one line per row, lists and dicts as JSON. JSON Lines: one object
    per line. JSON: one array (as `mobilabel results --format json` always printed).
    Raises ``ValueError`` for an unknown format.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(columns)
    elif fmt == "json":
        buffer.write("[")
    first = True
    for row in rows:
        if fmt == "csv":
            writer.writerow([_csv_value(row[c]) for c in columns])
        else:
            if fmt == "json":
                buffer.write("\n  " if first else ",\n  ")
            buffer.write(json.dumps(row, default=str))
            if fmt == "jsonl":
                buffer.write("\n")
        first = False
        if buffer.tell() >= _CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if fmt == "json":
        buffer.write("]\n" if first else "\n]\n")
    yield buffer.getvalue()


def _csv_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value
