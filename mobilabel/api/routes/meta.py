"""/api/meta: what the review page needs to know about this server, read from where Python keeps it
(state names from storage.states, the reserved answers from storage.classes, sorts from storage.result_pages, training defaults from training), so the
page copies none of it, and whether MOBILABEL_ALLOWED_ROOTS is set (the page's banner when not)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...storage.classes import OTHER, SKIP
from ...storage.result_pages import KEYSET_SORTS
from ...storage.states import ACTIVE_JOB_STATES, ACTIVE_RUN_STATES, JobState, ResultStatus, RunState
from ...training.data import DEFAULT_VAL_FRACTION
from ...training.options import TrainingOptions
from ..deps import SettingsDep
from ..services.thumbnails import THUMBNAIL_SIZES

router = APIRouter(prefix="/api/meta", tags=["meta"])


class StateNames(BaseModel):
    all: list[str] = Field(description="every value of the status column")
    active: list[str] = Field(description="the values of a job or run that has not ended (worth following)")


class TrainingDefaults(BaseModel):
    epochs: int
    lr: float
    batch_size: int
    val_fraction: float = Field(description="share of each class held out when the data folder has no train/ and val/")
    include_corrections: bool = Field(description="verified labels join training and evaluation")


class ReservedAnswers(BaseModel):
    other: str = Field(description="none of my classes: trained on as its own outcome")
    skip: str = Field(description="not sure: not trained on, offered again once a new version is active or after a week")


class MetaOut(BaseModel):
    job_states: StateNames
    run_states: StateNames
    result_states: list[str]
    result_sorts: list[str] = Field(description="values of /api/results?sort=")
    thumbnail_sizes: list[int]
    answers: ReservedAnswers = Field(description="the two answers that are not classes (their names are reserved)")
    training_defaults: TrainingDefaults
    allowed_roots_set: bool = Field(
        description="false: MOBILABEL_ALLOWED_ROOTS is unset, so images are not served and no job can be started"
    )


@router.get("", response_model=MetaOut)
def meta(settings: SettingsDep) -> MetaOut:
    """State names, sorts and defaults of this server, and whether images can be served."""
    defaults = TrainingOptions()
    return MetaOut(
        job_states=StateNames(all=list(JobState), active=list(ACTIVE_JOB_STATES)),
        run_states=StateNames(all=list(RunState), active=list(ACTIVE_RUN_STATES)),
        result_states=list(ResultStatus),
        result_sorts=list(KEYSET_SORTS),
        thumbnail_sizes=list(THUMBNAIL_SIZES),
        answers=ReservedAnswers(other=OTHER, skip=SKIP),
        training_defaults=TrainingDefaults(
            epochs=defaults.epochs,
            lr=defaults.lr,
            batch_size=defaults.batch_size,
            val_fraction=DEFAULT_VAL_FRACTION,
            include_corrections=defaults.include_corrections,
        ),
        allowed_roots_set=bool(settings.allowed_roots),
    )
