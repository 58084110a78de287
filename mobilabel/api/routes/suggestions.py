"""/api/suggestions/refresh: a quick head on the stored embeddings of the answered images, and the library
relabelled from them (``training.quick``); also run by itself after every MOBILABEL_REFRESH_EVERY answers."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ...config import Settings
from ...storage import Database
from ...storage.training_runs import quick_refresh_due
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


def refresh_if_due(db: Database, settings: Settings) -> None:
    """After an answer (a background task): a quick head when MOBILABEL_REFRESH_EVERY answers came since the last."""
    from ...training.quick import QuickHeadError, quick_refresh

    with db.transaction() as session:
        if not quick_refresh_due(session, settings.refresh_every):
            return
    try:
        quick_refresh(db, settings)
    except QuickHeadError as exc:
        log.info("no quick head after %d answers: %s", settings.refresh_every, exc)
