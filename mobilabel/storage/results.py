"""Label results: written a batch per transaction, keyed on (image, model version)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from .tables import Job, Result, utcnow
from .upsert import upsert

OK = "ok"
FAILED = "failed"
SORT_KEYS = {
    "path": Result.image_path.asc(),
    "label": Result.label.asc(),
    "confidence": Result.confidence.asc(),
    "-confidence": Result.confidence.desc(),
    "time": Result.updated_at.asc(),
    "-time": Result.updated_at.desc(),
}
_UPDATED_ON_CONFLICT = ("content_id", "label", "confidence", "top_k", "job_id", "status", "error", "updated_at")


@dataclass(frozen=True)
class ResultRecord:
    """One image's outcome, before it is stored."""

    image_path: str
    content_id: str | None
    status: str
    label: str | None = None
    confidence: float | None = None
    top_k: list[dict[str, Any]] | None = None
    error: str | None = None


def write_results(
    session: Session, records: Sequence[ResultRecord], model_version_id: str, job_id: int | None, keep_existing: bool = False
) -> None:
    """Upsert a batch: labelling the same image with the same version again replaces its row
    (or, with ``keep_existing``, leaves an existing row as it is)."""
    now = utcnow()
    rows = [
        {
            "image_path": r.image_path,
            "content_id": r.content_id,
            "label": r.label,
            "confidence": r.confidence,
            "top_k": r.top_k,
            "status": r.status,
            "error": r.error,
            "model_version_id": model_version_id,
            "job_id": job_id,
            "created_at": now,
            "updated_at": now,
        }
        for r in _last_per_path(records)
    ]
    upsert(session, Result, rows, keys=("image_path", "model_version_id"), update=() if keep_existing else _UPDATED_ON_CONFLICT)


def count_outcomes(records: Sequence[ResultRecord]) -> tuple[int, int]:
    """(labelled, failed) in a batch."""
    failed = sum(1 for r in records if r.status == FAILED)
    return len(records) - failed, failed


def add_to_job_counters(session: Session, job_id: int, done: int, failed: int) -> None:
    # An UPDATE with increments, not read-modify-write, so concurrent writers never lose a count.
    session.execute(update(Job).where(Job.id == job_id).values(done=Job.done + done, failed=Job.failed + failed))


@dataclass(frozen=True)
class ResultFilter:
    job_id: int | None = None
    label: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    path_pattern: str | None = None
    status: str | None = None
    model_version_id: str | None = None
    sort: str = "path"
    limit: int | None = None


def query_results(session: Session, where: ResultFilter) -> list[Result]:
    return list(session.scalars(_results_statement(where)))


def results_statement(where: ResultFilter) -> Select[tuple[Result]]:
    """The filtered and sorted SELECT, for callers that page through it by key or stream it.

    Raises ``ValueError`` for an unknown sort.
    """
    return _results_statement(where)


def _results_statement(where: ResultFilter) -> Select[tuple[Result]]:
    if where.sort not in SORT_KEYS:
        raise ValueError(f"unknown sort {where.sort!r}; choose one of {', '.join(SORT_KEYS)}")
    statement = select(Result)
    if where.job_id is not None:
        statement = statement.where(Result.job_id == where.job_id)
    if where.label is not None:
        statement = statement.where(Result.label == where.label)
    if where.min_confidence is not None:
        statement = statement.where(Result.confidence >= where.min_confidence)
    if where.max_confidence is not None:
        statement = statement.where(Result.confidence <= where.max_confidence)
    if where.path_pattern:
        statement = statement.where(Result.image_path.like(glob_to_like(where.path_pattern), escape="\\"))
    if where.status is not None:
        statement = statement.where(Result.status == where.status)
    if where.model_version_id is not None:
        statement = statement.where(Result.model_version_id == where.model_version_id)
    statement = statement.order_by(SORT_KEYS[where.sort], Result.id)
    if where.limit is not None:
        statement = statement.limit(where.limit)
    return statement


def label_counts(session: Session, job_id: int) -> dict[str, int]:
    """How many images of a job got each label, most frequent first."""
    count = func.count()
    rows = session.execute(
        select(Result.label, count)
        .where(Result.job_id == job_id, Result.status == OK)
        .group_by(Result.label)
        .order_by(count.desc(), Result.label)
    )
    return {label: n for label, n in rows}


def failures(session: Session, job_id: int) -> list[tuple[str, str]]:
    """(path, reason) of each image a job could not label."""
    rows = session.execute(
        select(Result.image_path, Result.error).where(Result.job_id == job_id, Result.status == FAILED).order_by(Result.image_path)
    )
    return [(path, error or "") for path, error in rows]


def glob_to_like(pattern: str) -> str:
    """A shell-style pattern (``*``, ``?``) as a LIKE pattern; it matches anywhere in the path."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = escaped.replace("*", "%").replace("?", "_")
    return like if like.startswith("%") else f"%{like}"


def _last_per_path(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    # One statement may not touch the same key twice (PostgreSQL refuses it).
    return list({r.image_path: r for r in records}.values())
