"""What `results` (and the HTTP API) show: each image's current label, or every version's rows.

The current view gives one row per image path: the row of the file's newest content
(rows whose content hash differs from the newest row's describe an older file),
labelled rather than failed, from the active version if it labelled the image, else
from the newest version that did. Beside it, the label a person verified for that
content, if any. ``ResultFilter.all_versions`` (or naming a version) shows every
(image, version) row instead. Filters on the label, status and confidence apply to the
row chosen, so ``--label daisy`` lists images that are daisies now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, case, func, literal, or_, select
from sqlalchemy.orm import Session

from .membership import job_paths
from .results import ResultFilter, glob_to_like, in_job
from .tables import Correction, ModelVersion, Result
from .versions import active_version_id

# (column, descending) per sort key; the row id breaks ties, so pages never overlap.
_SORTS = {
    "path": ("image_path", False),
    "label": ("label", False),
    "confidence": ("confidence", False),
    "-confidence": ("confidence", True),
    "time": ("updated_at", False),
    "-time": ("updated_at", True),
}
_RESULT_COLUMNS = (
    "id", "image_path", "content_id", "content_hash", "label", "confidence", "top_k", "status", "error",
    "model_version_id", "job_id", "created_at", "updated_at",
)


@dataclass(frozen=True)
class ResultView:
    """One row of `results`: a stored result and the verified label of its content."""

    id: int
    image_path: str
    content_id: str | None
    content_hash: str | None
    label: str | None
    confidence: float | None
    top_k: list[dict[str, Any]] | None
    status: str
    error: str | None
    model_version_id: str
    job_id: int | None
    created_at: datetime
    updated_at: datetime
    verified_label: str | None


def query_view(session: Session, where: ResultFilter) -> list[ResultView]:
    """The rows ``where`` asks for, sorted and limited. Check ``where`` first with ``filters.check_filter``."""
    statement = view_statement(where, active_version_id(session))
    return [ResultView(**row._mapping) for row in session.execute(statement)]


def view_statement(where: ResultFilter, active_id: str | None) -> Select[Any]:
    """The SELECT behind ``query_view``: columns named as ``ResultView``'s fields.

    For keyset pagination, wrap it (``.subquery()``) and add ``(sort column, id) > (last values)``.
    Raises ``ValueError`` for an unknown sort.
    """
    if where.sort not in _SORTS:
        raise ValueError(f"unknown sort {where.sort!r}; choose one of {', '.join(_SORTS)}")
    rows = _all_rows(where) if where.all_versions or where.model_version_id is not None else _current_rows(where, active_id)
    verified = select(Correction.label).where(Correction.content_hash == rows.c.content_hash).scalar_subquery()
    statement = select(*(rows.c[name] for name in _RESULT_COLUMNS), verified.label("verified_label"))
    if where.label is not None:
        statement = statement.where(rows.c.label == where.label)
    if where.status is not None:
        statement = statement.where(rows.c.status == where.status)
    if where.min_confidence is not None:
        statement = statement.where(rows.c.confidence >= where.min_confidence)
    if where.max_confidence is not None:
        statement = statement.where(rows.c.confidence <= where.max_confidence)
    name, descending = _SORTS[where.sort]
    statement = statement.order_by(rows.c[name].desc() if descending else rows.c[name].asc(), rows.c.id)
    return statement.limit(where.limit) if where.limit is not None else statement


def _image_filters(statement: Select[Any], where: ResultFilter) -> Select[Any]:
    """Filters that keep or drop an image as a whole (so they may apply before the current row is chosen)."""
    if where.path_pattern:
        statement = statement.where(Result.image_path.like(glob_to_like(where.path_pattern), escape="\\"))
    return statement


def _all_rows(where: ResultFilter) -> Subquery:
    statement = _image_filters(select(*(Result.__table__.c[name] for name in _RESULT_COLUMNS)), where)
    if where.model_version_id is not None:
        statement = statement.where(Result.model_version_id == where.model_version_id)
    if where.job_id is not None:
        statement = statement.where(in_job(where.job_id))  # exactly the rows the job wrote or kept
    return statement.subquery("results_rows")


def _current_rows(where: ResultFilter, active_id: str | None) -> Subquery:
    columns = [Result.__table__.c[name] for name in _RESULT_COLUMNS]
    newest_hash = func.first_value(Result.content_hash).over(
        partition_by=Result.image_path, order_by=(Result.updated_at.desc(), Result.id.desc())
    )
    candidates = _image_filters(
        select(*columns, ModelVersion.created_at.label("version_created_at"), newest_hash.label("newest_hash")).join(
            ModelVersion, ModelVersion.id == Result.model_version_id
        ),
        where,
    )
    if where.job_id is not None:
        # The job's images, whichever version labels them now.
        candidates = candidates.where(Result.image_path.in_(job_paths(where.job_id)))
    c = candidates.subquery("candidates")
    same_content = or_(c.c.content_hash == c.c.newest_hash, c.c.content_hash.is_(None), c.c.newest_hash.is_(None))
    from_active: ColumnElement[bool] = c.c.model_version_id == active_id if active_id is not None else literal(False)
    rank = func.row_number().over(
        partition_by=c.c.image_path,
        order_by=(_first(same_content), _first(c.c.status == "ok"), _first(from_active), c.c.version_created_at.desc(), c.c.id.desc()),
    )
    ranked = select(*(c.c[name] for name in _RESULT_COLUMNS), rank.label("rank")).subquery("ranked")
    return select(ranked).where(ranked.c.rank == 1).subquery("current_rows")


def _first(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 0), else_=1)
