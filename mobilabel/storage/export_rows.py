"""The rows an export of the library takes: each image's current ok label once, with its review state.

Querying only. Rows come in path order (the current-path index serves it) through
``streaming.stream_rows``, so a million images need the memory of a few thousand.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .database import Database
from .filters import FilterError, check_job, known_labels, nearest_hint
from .result_queries import covered_by, path_matches
from .review_state import DEFAULT_EXPORTED, REVIEW_STATES, ReviewStateError, review_state, reviewed_label, with_review
from .states import ResultStatus
from .streaming import stream_rows
from .tables import Correction, Result


@dataclass(frozen=True)
class ExportFilter:
    """Which images an export takes; every field narrows it."""

    review_states: tuple[str, ...] = DEFAULT_EXPORTED
    label: str | None = None  # the exported label: the person's answer where there is one
    job_id: int | None = None  # the images this job covered
    path_pattern: str | None = None  # as `mobilabel results --path`


class ExportRow(NamedTuple):
    """One image as exported: ``image_path`` as the OS gives it, ``label`` the reviewed one,
    ``confidence`` the model's for its own label (0 to 1)."""

    image_path: str
    label: str
    review_state: str
    model_version_id: str
    confidence: float | None
    content_hash: str | None


def check_export_filter(session: Session, where: ExportFilter) -> None:
    """Raises ``filters.FilterError`` naming what exists for a job or label that does not,
    ``ReviewStateError`` for a review state outside ``REVIEW_STATES``."""
    if where.job_id is not None:
        check_job(session, where.job_id)
    if where.label is not None:
        known = known_labels(session) | set(session.scalars(select(Correction.label).distinct()))
        if where.label not in known:
            raise FilterError(
                f"no model version or verified label has the class {where.label!r}{nearest_hint(where.label, known)}"
            )
    unknown = set(where.review_states) - set(REVIEW_STATES)
    if unknown or not where.review_states:
        raise ReviewStateError(f"review states must be some of {', '.join(REVIEW_STATES)}")


def export_statement(where: ExportFilter) -> Select[Any]:
    """The SELECT of ``ExportRow`` columns, current ok rows only, by path."""
    label = reviewed_label()
    state = review_state()
    statement = with_review(
        select(Result.image_path, label, state, Result.model_version_id, Result.confidence, Result.content_hash)
    ).where(Result.is_current, Result.status == ResultStatus.OK)
    if set(where.review_states) != set(REVIEW_STATES):
        statement = statement.where(state.in_(where.review_states))
    if where.label is not None:
        statement = statement.where(label == where.label)
    if where.job_id is not None:
        statement = statement.where(covered_by(where.job_id))
    if where.path_pattern:
        statement = statement.where(path_matches(where.path_pattern))
    return statement.order_by(Result.image_path, Result.id)


def export_rows(db: Database, where: ExportFilter) -> Iterator[ExportRow]:
    """Every row ``where`` takes, streamed in path order; check it first with ``check_export_filter``."""
    for row in stream_rows(db, export_statement(where)):
        yield ExportRow(*row)


_HASHES_PER_QUERY = 1000  # bound parameters per IN list, well under SQLite's and PostgreSQL's limits


def paths_with_content(session: Session, content_hashes: Iterable[str]) -> dict[str, str]:
    """content hash -> the path of an image the library labels now with that content (the first
    by path), for those hashes it knows."""
    wanted = sorted(set(content_hashes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        rows = session.execute(
            select(Result.content_hash, func.min(Result.image_path))
            .where(Result.is_current, Result.content_hash.in_(wanted[start : start + _HASHES_PER_QUERY]))
            .group_by(Result.content_hash)
        )
        found.update((str(content_hash), path) for content_hash, path in rows)
    return found


def labelled_paths(session: Session, model_version_id: str, limit: int) -> list[str]:
    """Up to ``limit`` paths of images ``model_version_id`` labelled (ok), by path."""
    return list(
        session.scalars(
            select(Result.image_path)
            .where(Result.model_version_id == model_version_id, Result.status == ResultStatus.OK)
            .order_by(Result.image_path)
            .limit(limit)
        )
    )


def rows_with_content(session: Session, where: ExportFilter, content_hash: str) -> list[ExportRow]:
    """The rows ``where`` takes whose image has ``content_hash`` (copies of one image: a few)."""
    return [ExportRow(*row) for row in session.execute(export_statement(where).where(Result.content_hash == content_hash))]
