"""INSERT ... ON CONFLICT DO UPDATE in each dialect's own form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .tables import Base


def upsert(
    session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Sequence[str]
) -> None:
    """Insert ``rows``; where ``keys`` already exist, overwrite the ``update`` columns (none: keep the row)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"upserts are written for PostgreSQL and SQLite, not {dialect}")
    # One statement executed for many rows: compiled once and cached, where a multi-VALUES
    # statement was compiled anew for every batch (8% of `mobilabel label`'s CPU time).
    statement: Insert = insert(table.__table__)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={column: statement.excluded[column] for column in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement, list(rows))
