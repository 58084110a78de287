"""/api/jobs: label a folder as a job, follow it, cancel it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ...dispatch import submit_job
from ...object_paths import source_path
from ...pipeline.paths import FolderError, check_folder, iter_images
from ...storage import jobs as stored_jobs
from ...storage.ownership import reap_orphans
from ...storage.states import ACTIVE_JOB_STATES, JobState
from ...storage.tables import Job, utcnow
from ..deps import PATH_MARK, DatabaseDep, RowId, SessionDep, SettingsDep, confined
from ..services.job_runner import JobNotActiveError, JobRunner

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


class JobRequest(BaseModel):
    folder: str = Field(
        description="Absolute path of a folder on the server, under MOBILABEL_ALLOWED_ROOTS", json_schema_extra=PATH_MARK
    )
    chunk_size: int | None = Field(None, ge=1, description="Images per task (distributed only)")
    queue: Literal["cpu", "gpu"] = "cpu"


class JobOut(BaseModel):
    id: int
    status: str
    root: str
    total: int
    done: int
    failed: int
    skipped: int = Field(description="images left as they were: unchanged since they were last labelled")
    processed: int = Field(description="done + failed + skipped, out of total (as `mobilabel status` counts)")
    rate: float | None = Field(description="images labelled or failed per second since the job started")
    eta_s: float | None = Field(description="seconds left at that rate, while the job runs")
    model_version_id: str | None
    queue: str | None
    error: str | None
    passed_over: dict[str, int] | None = Field(
        description="entries under the folder not labelled nor failed, counted by reason (e.g. "
        '{"not an image": 3, "broken symbolic link": 1}); null until the walk has ended'
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CancelOut(BaseModel):
    id: int
    status: str
    chunks_dropped: int


def job_out(job: Job) -> JobOut:
    # Skipped images count as processed (total includes them) but not towards the rate: they cost no labelling.
    labelled = job.done + job.failed
    processed = job.processed
    end = job.finished_at or utcnow()
    seconds = (end - job.started_at).total_seconds() if job.started_at else 0.0
    rate = labelled / seconds if seconds > 0 and labelled else None
    active = job.status in ACTIVE_JOB_STATES
    eta = (job.total - processed) / rate if active and rate and job.total >= processed else None
    return JobOut(
        id=job.id,
        status=job.status,
        root=job.root,
        total=job.total,
        done=job.done,
        failed=job.failed,
        skipped=job.skipped,
        processed=processed,
        rate=rate,
        eta_s=eta,
        model_version_id=job.model_version_id,
        queue=job.queue,
        error=job.error,
        passed_over=job.passed_over,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    responses={
        403: {"description": "folder outside the allowed roots, or none set"},
        404: {"description": "no such folder"},
        503: {"description": "the broker cannot be reached"},
    },
)
def create_job(body: JobRequest, request: Request, db: DatabaseDep, settings: SettingsDep) -> JobOut:
    """Label every image under a folder of the server: 202 with the job, then follow it with GET."""
    try:
        confined(settings, body.folder, "folder")
        # Kept as named, as paths are stored; each file is confined again when read.
        folder = check_folder(source_path(body.folder))
    except FolderError as exc:
        raise HTTPException(422, str(exc)) from exc
    if next(iter_images(folder), None) is None:
        raise HTTPException(422, f"no images under {folder}")
    runner: JobRunner = request.app.state.runner
    job = submit_job(db, settings, folder, chunk_size=body.chunk_size, queue=body.queue, local=runner)
    with db.transaction() as session:
        return job_out(session.get_one(Job, job.id))


@router.get("", response_model=list[JobOut])
def list_jobs(session: SessionDep, settings: SettingsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[JobOut]:
    """Jobs, newest first (a job whose process went silent shows failed, with the reason)."""
    reap_orphans(session, settings.heartbeat_s)
    return [job_out(job) for job in stored_jobs.list_jobs(session, limit)]


@router.get("/{job_id}", response_model=JobOut, responses={404: {"description": "no such job"}})
def get_job(job_id: RowId, session: SessionDep, settings: SettingsDep) -> JobOut:
    """One job: counts, rate and ETA."""
    reap_orphans(session, settings.heartbeat_s)
    job = stored_jobs.get_job(session, job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job_out(job)


@router.post(
    "/{job_id}/cancel",
    response_model=CancelOut,
    responses={404: {"description": "no such job"}, 409: {"description": "job ended already"}},
)
def cancel_job(job_id: RowId, request: Request) -> CancelOut:
    """Cancel: chunks not started never run; an embedded job stops after its current batch."""
    runner: JobRunner = request.app.state.runner
    try:
        dropped = runner.cancel(job_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except JobNotActiveError as exc:
        raise HTTPException(409, str(exc)) from exc
    return CancelOut(id=job_id, status=JobState.CANCELLED, chunks_dropped=dropped)
