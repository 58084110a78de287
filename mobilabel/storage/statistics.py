"""Planner statistics kept current after big writes, so the first query after a job plans as the tenth does.

PostgreSQL's autovacuum analyzes a table only after a minute or more; until then a table that
just grew (or was never analyzed) is planned from no or stale statistics, and exact-path lookups
picked the trigram index: 19-23 s for a job's CSV of 2,391 rows, 2.3 ms after ANALYZE.
SQLite needs no such step for these queries.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# Re-analyze once a job wrote at least this share of the rows already there (autovacuum's own default).
_CHANGED_SHARE = 0.1
_TABLES = ("results", "job_images")


def refresh_statistics(session: Session, rows_written: int) -> bool:
    """ANALYZE the result tables on PostgreSQL when ``rows_written`` is a big share of them, or they were
    never analyzed; returns whether it did. Cheap: ANALYZE reads a fixed-size sample."""
    if session.get_bind().dialect.name != "postgresql" or rows_written <= 0:
        return False
    # reltuples is -1 for a table never analyzed (PostgreSQL 14 and newer), 0 on older ones.
    estimate = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'results'::regclass")) or 0
    if estimate > 0 and rows_written < _CHANGED_SHARE * estimate:
        return False
    for table in _TABLES:
        session.execute(text(f"ANALYZE {table}"))
    return True
