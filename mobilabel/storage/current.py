"""Each image's current result row: what `results` (and the HTTP API) show by default.

Of the rows of one image path, the current one is the first in this order:
1. rows of the file's newest content first (a row whose content hash differs from that of
   the path's most recently written row describes the file before an edit);
2. labelled before failed;
3. the active model version's row first;
4. then the newest model version's.
So an image shows the active version's label if it labelled it, else the label of the
newest version that did, else its failure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select

from .membership import job_paths
from .tables import ModelVersion, Result


def current_result_ids(job_id: int | None = None) -> Select[Any]:
    """The ids of the current rows (one per image path), for ``Result.id.in_(...)``.

    With ``job_id``, only for the images that job covered (the rest is never ranked).
    Built on an alias of ``results``, so it never correlates with an enclosing query.
    """
    candidate = Result.__table__.alias("candidate")
    newest_hash = func.first_value(candidate.c.content_hash).over(
        partition_by=candidate.c.image_path, order_by=(candidate.c.updated_at.desc(), candidate.c.id.desc())
    )
    rows = select(
        candidate.c.id, candidate.c.image_path, candidate.c.content_hash, candidate.c.status, candidate.c.model_version_id,
        ModelVersion.created_at.label("version_created_at"), newest_hash.label("newest_hash"),
    ).join(ModelVersion, ModelVersion.id == candidate.c.model_version_id)
    if job_id is not None:
        rows = rows.where(candidate.c.image_path.in_(job_paths(job_id)))
    c = rows.subquery("candidates")
    active = select(ModelVersion.id).where(ModelVersion.active.is_(True)).scalar_subquery()
    same_content = or_(c.c.content_hash == c.c.newest_hash, c.c.content_hash.is_(None), c.c.newest_hash.is_(None))
    rank = func.row_number().over(
        partition_by=c.c.image_path,
        order_by=(_first(same_content), _first(c.c.status == "ok"), _first(c.c.model_version_id == active),
                  c.c.version_created_at.desc(), c.c.id.desc()),
    )
    ranked = select(c.c.id, rank.label("rank")).subquery("ranked")
    return select(ranked.c.id).where(ranked.c.rank == 1)


def _first(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 0), else_=1)
