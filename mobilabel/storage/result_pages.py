"""Result pages by key (keyset pagination): each page continues after the last row of the one
before, on an index, however deep; never OFFSET, which reads and drops every earlier row.

The query starts from ``storage.result_queries.results_statement`` (the CLI's filters), so pointing
both at a current-label view later is one change there.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..errors import MobilabelError
from .result_queries import ResultFilter, results_statement
from .tables import Result

# sort -> (column, descending). Rows without a value (failed: no label, no confidence) come last either way.
KEYSET_SORTS: dict[str, tuple[InstrumentedAttribute[Any], bool]] = {
    "path": (Result.image_path, False),
    "label": (Result.label, False),
    "confidence": (Result.confidence, False),
    "-confidence": (Result.confidence, True),
    "time": (Result.updated_at, False),
    "-time": (Result.updated_at, True),
}


class BadCursorError(MobilabelError):
    """A cursor this server did not make, or made for another sort."""


@dataclass(frozen=True)
class Page:
    rows: list[Result]
    next_cursor: str | None


def results_page(session: Session, where: ResultFilter, limit: int, cursor: str | None = None) -> Page:
    """Up to ``limit`` results matching ``where`` in its sort, after ``cursor`` (from the previous page).

    Rows with a value in the sort column come first, ordered by (value, id) both ascending or
    both descending, so one row comparison on an index finds where a page starts; rows without
    a value (failed ones have no label or confidence) follow, by id. Each part is its own
    query, as an OR of the two would keep the database from using the index.
    Raises ``BadCursorError`` for a cursor that does not decode or belongs to another sort,
    ``ValueError`` for an unknown sort.
    """
    if where.sort not in KEYSET_SORTS:
        raise ValueError(f"unknown sort {where.sort!r}; choose one of {', '.join(KEYSET_SORTS)}")
    column, descending = KEYSET_SORTS[where.sort]
    value, last_id = decode_cursor(cursor, where.sort) if cursor is not None else (None, None)
    base = results_statement(replace(where, limit=None)).order_by(None)
    rows: list[Result] = []
    if cursor is None or value is not None:
        valued = base.where(column.is_not(None))
        if value is not None:
            after = tuple_(column, Result.id)
            valued = valued.where(after < (value, last_id) if descending else after > (value, last_id))
        order = (column.desc(), Result.id.desc()) if descending else (column.asc(), Result.id.asc())
        rows = list(session.scalars(valued.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        empty = base.where(column.is_(None))
        if value is None and last_id is not None:
            empty = empty.where(Result.id < last_id if descending else Result.id > last_id)
        rows += session.scalars(empty.order_by(Result.id.desc() if descending else Result.id.asc()).limit(limit + 1 - len(rows)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(where.sort, getattr(rows[-1], column.key), rows[-1].id) if more else None
    return Page(rows, next_cursor)


def ordered_statement(where: ResultFilter) -> Select[Result]:
    """The filtered SELECT in page order: the sort column (and id the same way), rows without a value last."""
    column, descending = KEYSET_SORTS[where.sort]
    order = (column.desc().nulls_last(), Result.id.desc()) if descending else (column.asc().nulls_last(), Result.id.asc())
    return results_statement(replace(where, limit=None)).order_by(None).order_by(*order)


def encode_cursor(sort: str, value: Any, row_id: int) -> str:
    """An opaque cursor: the sort, the last row's sort value and id."""
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps({"s": sort, "v": value, "i": row_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, row_id = data["v"], int(data["i"])
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        cursor_sort = data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadCursorError("this cursor is not one this server made; start again without it") from exc
    if cursor_sort != sort:
        raise BadCursorError(f"this cursor belongs to sort {cursor_sort!r}, not {sort!r}")
    return value, row_id
