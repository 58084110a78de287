"""Streaming result rows out of the database as CSV, JSON Lines or a JSON array, in constant memory.

Rows come through a server-side cursor (PostgreSQL) or SQLite's lazy cursor, a few
thousand at a time, and leave as text chunks; nothing holds the whole result. JSON columns
(``top_k``) are read as the text the database holds and written as they are, never parsed
and re-encoded; on PostgreSQL the database builds each JSON line itself. Used by
`mobilabel results` and the API's export alike, so both write the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import JSON, Select, Text, cast, func

from .storage import Database
from .storage.pathcodec import to_stored
from .storage.review_state import review_state, with_review
from .storage.streaming import stream_rows
from .storage.tables import Acceptance, Correction, Result

# Every stored column a user reads, and beside the label who stands behind it: the verified label (a correction
# of the same content), the review state, and the version and threshold that accepted it (storage.review_state).
RESULT_COLUMNS = (
    "image_path", "label", "confidence", "status", "error", "warning", "model_version_id", "verified_label", "review_state",
    "accepted_by_version", "accepted_threshold", "job_id", "content_hash", "top_k"
)  # fmt: skip
VERIFIED_LABEL = "verified_label"
REVIEW_COLUMNS: dict[str, Callable[[], Any]] = {
    VERIFIED_LABEL: lambda: Correction.label,
    "review_state": review_state,
    "accepted_by_version": lambda: Acceptance.version_id,
    "accepted_threshold": lambda: Acceptance.threshold,
}
EXPORT_FORMATS = ("csv", "jsonl", "json")
_ROWS_PER_CHUNK = 2000


def export_text(db: Database, statement: Select[Any], fmt: str, columns: Sequence[str] = RESULT_COLUMNS) -> Iterator[str]:
    """The rows of ``statement`` (a SELECT of results) in ``fmt``, one of ``EXPORT_FORMATS``, in chunks.

    CSV: a header, then one line per row, JSON columns as their JSON text. JSON Lines: one
    object per line. JSON: one array (as `mobilabel results --format json` always printed).
    Raises ``ValueError`` for an unknown format.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if set(REVIEW_COLUMNS) & set(columns):
        statement = with_review(statement)
    if fmt == "csv":
        return _csv_chunks(_stream(db, statement, _selected(columns), columns), columns)
    if db.dialect == "postgresql":
        # json_build_object renders floats as Python does (shortest round trip); SQLite's json_object does not.
        # It reads the stored text of paths: the same form to_stored gives.
        pairs = [part for c in columns for part in (c, _column(c))]
        lines = (row[0] for row in _stream(db, statement, [cast(func.json_build_object(*pairs), Text)], ()))
    else:
        line = _json_line_encoder(columns)
        lines = (line(row) for row in _stream(db, statement, _selected(columns), columns))
    return _json_chunks(lines, fmt)


def _column(name: str) -> Any:
    return REVIEW_COLUMNS[name]() if name in REVIEW_COLUMNS else getattr(Result, name)


def _selected(columns: Sequence[str]) -> list[Any]:
    return [cast(_column(c), Text) if _is_json(c) else _column(c) for c in columns]


def _is_json(column: str) -> bool:
    return column not in REVIEW_COLUMNS and isinstance(_column(column).type, JSON)


def _stream(db: Database, statement: Select[Any], selected: list[Any], columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    # Paths leave in their stored form: a name that is not UTF-8 as bytes:/...\xNN..., exact and printable.
    path = columns.index("image_path") if "image_path" in columns else None
    for values in stream_rows(db, statement.with_only_columns(*selected)):
        yield values if path is None else (*values[:path], to_stored(values[path]), *values[path + 1 :])


def _json_line_encoder(columns: Sequence[str]) -> Callable[[tuple[Any, ...]], str]:
    """A function from a row to its JSON line: one C-encoded dict, the JSON text of JSON columns
    spliced in after it (their keys last)."""
    plain = [(i, c) for i, c in enumerate(columns) if not _is_json(c)]
    raw = [(i, f", {json.dumps(c)}: ") for i, c in enumerate(columns) if _is_json(c)]
    encode = json.JSONEncoder(default=str).encode

    def line(row: tuple[Any, ...]) -> str:
        head = encode({c: row[i] for i, c in plain})[:-1]
        return head + "".join(key + (row[i] if row[i] is not None else "null") for i, key in raw) + "}"

    return line


def _json_chunks(lines: Iterator[str], fmt: str) -> Iterator[str]:
    separator = "\n" if fmt == "jsonl" else ",\n  "
    first = True
    while batch := list(islice(lines, _ROWS_PER_CHUNK)):
        text = separator.join(batch)
        yield text + "\n" if fmt == "jsonl" else ("[\n  " if first else separator) + text
        first = False
    if fmt == "json":
        yield "[]\n" if first else "\n]\n"


def _csv_chunks(rows: Iterator[tuple[Any, ...]], columns: Sequence[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    while batch := list(islice(rows, _ROWS_PER_CHUNK)):
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
