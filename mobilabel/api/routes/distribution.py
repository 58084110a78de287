"""/api/jobs/ID/labels: a job's label distribution, for the job page's chart."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from ...storage.result_queries import label_distribution
from ...storage.tables import Job
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
    rows = label_distribution(session, job_id)
    return [LabelCount(label=label, status=status, images=n) for label, status, n in rows]
