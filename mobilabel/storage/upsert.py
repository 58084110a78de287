"""INSERT ... ON CONFLICT DO UPDATE in each dialect's own form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    # One statement executed for many rows: compiled once and cached, where a multi-VALUES
    # statement was compiled anew for every batch (a measurable share of `mobilabel label`'s CPU time:
    # docs/benchmarks/recorded.md, Throughput history).
    insert: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        insert = postgresql.insert(table)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
    else:
        raise NotImplementedError(f"upserts are written for PostgreSQL and SQLite, not {dialect}")
    if update:
        statement = insert.on_conflict_do_update(
            index_elements=list(keys), set_={column: insert.excluded[column] for column in update}
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement, list(rows))
