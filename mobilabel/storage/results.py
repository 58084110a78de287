"""Label results: written a batch per transaction, keyed on (image, model version)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Table
from sqlalchemy.orm import Session

from . import membership
from .current import lock_every_path, lock_paths, refresh_current
from .pathcodec import printable
from .states import ImageOutcome, ResultStatus
from .tables import Result, utcnow
from .upsert import upsert

_UPDATED_ON_CONFLICT = (
    "content_id", "content_hash", "label", "confidence", "top_k", "job_id", "status", "error", "warning", "updated_at"
)  # fmt: skip


@dataclass(frozen=True)
class ResultRecord:
    """One image's outcome, before it is stored."""

    image_path: str
    content_id: str | None
    status: ResultStatus
    label: str | None = None
    confidence: float | None = None
    top_k: list[dict[str, Any]] | None = None
    error: str | None = None
    content_hash: str | None = None  # mobilabel.hashing of the bytes read; None if they could not be read
    warning: str | None = None  # a decoder's warning about an image it still read whole
    # The content's pooled features (D,) from the forward pass that labelled it, kept by storage.embedding_writes
    # (not in the results table); None for a copy, a failure, or an engine that gives logits only.
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


def write_results(
    session: Session, records: Sequence[ResultRecord], model_version_id: str, job_id: int | None, keep_existing: bool = False
) -> None:
    """Upsert a batch: labelling the same image with the same version again replaces its row
    (or, with ``keep_existing``, leaves an existing row as it is). Each image's current row
    (storage.current) is set right, and with a ``job_id`` the job's membership (each image and
    its outcome) recorded, in the same transaction."""
    records = _last_per_path(records)
    rows = _rows(records, model_version_id, job_id)
    lock_paths(session, [r.image_path for r in records])
    upsert(session, Result, rows, keys=("image_path", "model_version_id"), update=() if keep_existing else _UPDATED_ON_CONFLICT)
    refresh_current(session, [r.image_path for r in records])
    if job_id is not None:
        outcomes = [
            (r.image_path, ImageOutcome.FAILED if r.status == ResultStatus.FAILED else ImageOutcome.LABELLED) for r in records
        ]
        membership.record_job_images(session, job_id, model_version_id, outcomes, keep_existing=keep_existing)


def insert_results(session: Session, records: Sequence[ResultRecord], model_version_id: str) -> None:
    """Rows of a version that has no row of these images yet and that this transaction goes on to activate (a
    quick head relabelling the library), written current, as plain rows: no conflict handling, no per-path
    locks, no current-row refresh, and no SQLAlchemy work per row (``_plain_rows``): on PostgreSQL one COPY, on
    SQLite one executemany of the driver.

    Written current because ``versions.activate_version``, called before this transaction commits, would make
    them so: each is its image's newest, labelled row of the active version (storage.current's rule). The
    activation then only makes the images' other rows not current, and each image's row is written once, where
    inserting it not current and flipping it at activation wrote it twice (index entries included). Until the
    commit no other transaction sees them, so `results` shows the suggestions as they were, and a refresh
    killed before it leaves nothing behind. Takes ``current.lock_every_path`` (PostgreSQL): a worker writing one of
    these images meanwhile would not see the new row and keep its own current too.

    Raises ``psycopg.errors.UniqueViolation`` (PostgreSQL's COPY, not wrapped by SQLAlchemy) or
    ``sqlalchemy.exc.IntegrityError`` (SQLite) if the version already has a row of one of the images."""
    rows = [row | {"is_current": True} for row in _rows(_last_per_path(records), model_version_id, None)]
    if not rows:
        return
    lock_every_path(session)
    table = Result.metadata.tables[Result.__tablename__]
    names, values = _plain_rows(session, table, rows)
    quoted = ", ".join(f'"{name}"' for name in names)
    if session.get_bind().dialect.name == "postgresql":
        import psycopg  # PostgreSQL's driver: not loaded where only SQLite is used

        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection), "the project's PostgreSQL driver is psycopg 3"
        with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)
    else:  # through SQLAlchemy's connection, so that "database is locked" becomes DatabaseLockedError as elsewhere
        marks = ", ".join("?" for _ in names)
        session.connection().exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', values)


def _plain_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names of ``rows`` (all with the same keys) and their values as the driver takes them, each
    bound as SQLAlchemy binds it (the stored path form, JSON, timestamps), so the rows read back as an INSERT's
    would. Where SQLAlchemy's executemany spent more time preparing 20,000 rows than SQLite took to write them."""
    dialect = session.get_bind().dialect
    columns = [table.c[name] for name in rows[0]]
    binds = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    values = [tuple(v if bind is None else bind(v) for v, bind in zip(row.values(), binds, strict=True)) for row in rows]
    return [column.name for column in columns], values


def count_outcomes(records: Sequence[ResultRecord]) -> tuple[int, int]:
    """(labelled, failed) in a batch."""
    failed = sum(1 for r in records if r.status == ResultStatus.FAILED)
    return len(records) - failed, failed


def _rows(records: Sequence[ResultRecord], model_version_id: str, job_id: int | None) -> list[dict[str, Any]]:
    """The table's rows of ``records`` (one per path already), stamped now."""
    now = utcnow()
    return [
        {
            "image_path": r.image_path,
            "content_id": r.content_id,
            "content_hash": r.content_hash,
            "label": r.label,
            "confidence": r.confidence,
            "top_k": r.top_k,
            "status": r.status,
            "error": None if r.error is None else printable(r.error),
            "warning": None if r.warning is None else printable(r.warning),
            "model_version_id": model_version_id,
            "job_id": job_id,
            "created_at": now,
            "updated_at": now,
        }
        for r in records
    ]


def _last_per_path(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    # One statement may not touch the same key twice (PostgreSQL refuses it).
    return list({r.image_path: r for r in records}.values())
