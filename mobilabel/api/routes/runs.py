"""/api/training-runs: training runs (local `mobilabel train` too, sent to the workers, or run here), with their progress."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ...dispatch import submit_training
from ...errors import MobilabelError
from ...storage import training_runs as stored_runs
from ...storage.ownership import reap_orphans
from ...storage.paths import absolute_path
from ...storage.tables import TrainingRun
from ..deps import PATH_MARK, DatabaseDep, RowId, SessionDep, SettingsDep, confined
from ..services.job_runner import JobRunner

router = APIRouter(prefix="/api/training-runs", tags=["training runs"])


class RunProgress(BaseModel):
    """Where a running training run is (training.Progress, written after every batch or so)."""

    epoch: int
    epochs: int
    phase: str = Field(description="train or val")
    done: int = Field(description="images of this phase so far")
    total: int = Field(description="images in this phase")
    loss: float = Field(description="mean over the images so far")
    accuracy: float


class RunOut(BaseModel):
    id: int
    data_dir: str | None = Field(description="the folder trained on; null: the answers alone")
    options: dict[str, Any]
    trigger: str
    status: str
    progress: RunProgress | None
    version_id: str | None
    promoted: bool | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunRequest(BaseModel):
    data_dir: str | None = Field(
        None,
        description="absolute path on the server, under MOBILABEL_ALLOWED_ROOTS: train/<class>/ and val/<class>/, or <class>/ folders; "
        "absent: train on the answers alone",
        json_schema_extra=PATH_MARK,
    )
    epochs: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    batch_size: int | None = Field(None, ge=1)
    seed: int = 0
    val_fraction: float | None = Field(None, gt=0, lt=1)
    include_corrections: bool = Field(
        True, description="the verified labels join training and evaluation, as `mobilabel train` does by default"
    )
    force: bool = Field(False, description="promote even if it is not better, or knows other classes")
    relabel: bool = Field(False, description="if promoted, relabel the last week's jobs (needs a broker)")


@router.post(
    "",
    status_code=202,
    response_model=RunOut,
    responses={
        403: {"description": "data_dir outside the allowed roots, or none set"},
        404: {"description": "no such folder"},
        503: {"description": "the broker cannot be reached"},
    },
)
def start_run(body: RunRequest, request: Request, db: DatabaseDep, settings: SettingsDep) -> RunOut:
    """Train a new version: on a worker (queue MOBILABEL_TRAIN_QUEUE) when a broker is configured,
    else in this server in the background; follow it with GET."""
    from ...training import TrainingOptions  # loads torch: only when a run is started

    data_dir = None
    if body.data_dir is not None:
        confined(settings, body.data_dir, "folder")
        data_dir = absolute_path(body.data_dir)  # kept as named, as paths are stored; training confines each image again
    if body.relabel and not settings.broker_configured:
        raise HTTPException(422, "relabel sends jobs to the workers: set MOBILABEL_BROKER_URL")
    options = body.model_dump(exclude={"data_dir", "force", "relabel"}, exclude_none=True)
    try:
        TrainingOptions(**options)  # the checks of `mobilabel train`, before anything is recorded
    except (MobilabelError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from exc
    with db.transaction() as session:
        # The server's roots go with the run: a worker without roots of its own still reads only under them.
        run = stored_runs.create_run(
            session, data_dir, options, body.force, body.relabel, trigger="api", allowed_roots=settings.allowed_roots
        )
    runner: JobRunner = request.app.state.runner
    submit_training(db, settings, run.id, local=runner)
    with db.transaction() as session:
        return RunOut.model_validate(session.get_one(TrainingRun, run.id), from_attributes=True)


@router.get("", response_model=list[RunOut])
def list_runs(session: SessionDep, settings: SettingsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[RunOut]:
    """Runs, newest first (a run whose worker went silent shows failed, with the reason)."""
    reap_orphans(session, settings.heartbeat_s)
    return [RunOut.model_validate(r, from_attributes=True) for r in stored_runs.list_runs(session, limit)]


@router.get("/{run_id}", response_model=RunOut, responses={404: {"description": "no such run"}})
def get_run(run_id: RowId, session: SessionDep, settings: SettingsDep) -> RunOut:
    reap_orphans(session, settings.heartbeat_s)
    run = stored_runs.get_run(session, run_id)
    if run is None:
        raise HTTPException(404, f"no training run {run_id}")
    return RunOut.model_validate(run, from_attributes=True)
