"""/api/suggestions/refresh: a quick head on the stored embeddings of the answered images, and the library
relabelled from them (``training.quick``); also run by itself after every MOBILABEL_REFRESH_EVERY answers."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ...config import Settings
from ...storage import Database
from ...training.errors import TrainingError
from ...training.refresh import refresh_if_due
from ..deps import DatabaseDep, SettingsDep

router = APIRouter(prefix="/api/suggestions", tags=["review"])
log = logging.getLogger(__name__)


class RefreshIn(BaseModel):
    force: bool = Field(False, description="activate the new head even if it is not better on the held-out answers")


class RefreshOut(BaseModel):
    version_id: str
    classes: list[str]
    trained: int = Field(description="answers the head was fitted on (every answer but the audit ones)")
    promoted: bool = Field(description="whether the gate made it active; if not, the suggestions stay as they were")
    reason: str = Field(description="the gate's comparison on held-out answers")
    held_out: int = Field(description="held-out answers both versions were counted on")
    relabelled: int = Field(description="images relabelled from their stored embeddings")
    pruned: int = Field(description="result rows of older quick heads deleted")
    without_embedding: int = Field(description="answers left out: no embedding stored yet (label their folder)")
    seconds: float


@router.post(
    "/refresh", response_model=RefreshOut, responses={422: {"description": "nothing to fit yet (too few answers or embeddings)"}}
)
def refresh(body: RefreshIn, db: DatabaseDep, settings: SettingsDep) -> RefreshOut:
    """Fit a quick head now ("update suggestions"); answers whether the gate promoted it and what changed."""
    from ...training.quick import QuickHeadError, quick_refresh  # torch: only a fit needs it

    try:
        report = quick_refresh(db, settings, force=body.force)
    except QuickHeadError as exc:
        raise HTTPException(422, str(exc)) from exc
    return RefreshOut.model_validate(report, from_attributes=True)


def refresh_after_answer(db: Database, settings: Settings) -> None:
    """After an answer (a background task): the quick head when it is due (``training.refresh``), logged."""
    try:
        report = refresh_if_due(db, settings)
    except TrainingError as exc:  # QuickHeadError: nothing to fit yet
        log.info("no quick head after %d answers: %s", settings.refresh_every, exc)
        return
    if report is not None:
        log.info("quick head %s after %d answers: %s", report.version_id, settings.refresh_every, report.reason)
