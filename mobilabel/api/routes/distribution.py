"""/api/jobs/ID/labels: a job's label distribution, for the job page's chart."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlalchemy import func, select

from ...storage.result_queries import in_job
from ...storage.tables import Job, Result
from ..deps import RowId, SessionDep

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


class LabelCount(BaseModel):
    label: str | None  # None: the failed images
    status: str
    images: int


@router.get("/{job_id}/labels", response_model=list[LabelCount], responses={404: {"description": "no such job"}})
def job_labels(job_id: RowId, session: SessionDep) -> list[LabelCount]:
    """Images per label of this job's results, those it wrote or found unchanged (failed ones as one
    row, label null), most first."""
    if session.get(Job, job_id) is None:
        raise HTTPException(404, f"no job {job_id}")
    count = func.count()
    rows = session.execute(
        select(Result.label, Result.status, count)
        .where(in_job(job_id))
        .group_by(Result.label, Result.status)
        .order_by(count.desc(), Result.label)
    )
    return [LabelCount(label=label, status=status, images=n) for label, status, n in rows]
