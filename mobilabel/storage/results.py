"""Label results: written a batch per transaction, keyed on (image, model version)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from . import membership
from .current import lock_paths, refresh_current
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
    """Rows of a version that has no row of these images yet (a quick head relabelling the library), written
    as plain rows: one INSERT executed for the whole batch through SQLAlchemy Core (no per-row ORM work, no
    conflict handling; batched multi-row VALUES on PostgreSQL), and no current-row refresh or path locks.

    The rows are written not current: the version is not active yet, and its activation
    (``versions.activate_version``) sets the current row of every image it touches in one statement. So until
    then `results` shows the suggestions as they were, and a crash before it leaves them so (the rows of a
    version never activated are pruned by the next quick refresh: ``pruning.prune_quick_results``).
    Raises ``sqlalchemy.exc.IntegrityError`` if the version already has a row of one of the images."""
    rows = [row | {"is_current": False} for row in _rows(_last_per_path(records), model_version_id, None)]
    if rows:
        session.execute(insert(Result.metadata.tables[Result.__tablename__]), rows)  # the table: Core, not ORM bulk


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
