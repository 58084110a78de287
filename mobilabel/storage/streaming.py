"""Reading a SELECT's rows a few thousand at a time: a server-side cursor on PostgreSQL, SQLite's lazy cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select

from .database import Database

ROWS_PER_FETCH = 2000


def stream_rows(db: Database, statement: Select[Any], rows_per_fetch: int = ROWS_PER_FETCH) -> Iterator[tuple[Any, ...]]:
    """Each row of ``statement`` as a tuple, in its order, holding at most ``rows_per_fetch`` at once.

    The connection stays open until the iterator is exhausted or closed.
    """
    with db.engine.connect() as connection:
        for row in connection.execution_options(stream_results=True, yield_per=rows_per_fetch).execute(statement):
            yield tuple(row)
