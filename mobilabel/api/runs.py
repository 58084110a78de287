"""/api/training-runs: training runs sent to the workers, with their progress."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from ..storage import training_runs as stored_runs
from .deps import SessionDep

router = APIRouter(prefix="/api/training-runs", tags=["training runs"])


class RunOut(BaseModel):
    id: int
    data_dir: str
    options: dict[str, Any]
    trigger: str
    status: str
    progress: dict[str, Any] | None
    version_id: str | None
    promoted: bool | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@router.get("", response_model=list[RunOut])
def list_runs(session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[RunOut]:
    """Runs, newest first."""
    return [RunOut.model_validate(r, from_attributes=True) for r in stored_runs.list_runs(session, limit)]


@router.get("/{run_id}", response_model=RunOut, responses={404: {"description": "no such run"}})
def get_run(run_id: int, session: SessionDep) -> RunOut:
    run = stored_runs.get_run(session, run_id)
    if run is None:
        raise HTTPException(404, f"no training run {run_id}")
    return RunOut.model_validate(run, from_attributes=True)
