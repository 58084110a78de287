"""/api/review/next: the images a reviewer answers next, chosen by the model and leased to them
(``mobilabel.review_queue``); answers go to PUT /api/corrections."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...review_queue import next_batch
from ..deps import DatabaseDep, SettingsDep

router = APIRouter(prefix="/api/review", tags=["review"])


class NextIn(BaseModel):
    reviewer: str = Field(
        min_length=1, max_length=200, description="who answers: leases are per reviewer (the page asks once and keeps it)"
    )
    count: int = Field(20, ge=1, le=1000, description="how many images to lease")


class QueueItemOut(BaseModel):
    result_id: int
    image_path: str
    suggested_label: str | None = Field(description="the model's top label that is not a retired class")
    confidence: float | None
    margin: float | None = Field(description="top-1 minus top-2 probability")
    reason: str = Field(
        description="uncertain, diverse, audit (a uniform draw, held out of training to measure accuracy) or check (a "
        "uniform draw of the set `accept` would take, which its answers certify)"
    )


class BatchOut(BaseModel):
    items: list[QueueItemOut]
    left: int = Field(description="images still to review after this batch (not answered, not leased)")
    expires_in_s: float = Field(description="how long the images are held for this reviewer (MOBILABEL_REVIEW_LEASE_S)")
    refusal: str | None = Field(
        None, description="why the newest quick head left the suggestions as they were (its gate refused it)"
    )


@router.post("/next", response_model=BatchOut)
def review_next(body: NextIn, db: DatabaseDep, settings: SettingsDep) -> BatchOut:
    """Lease the next ``count`` images to ``reviewer``; no other reviewer is offered them until the lease expires."""
    batch = next_batch(db, body.reviewer.strip() or body.reviewer, body.count, settings.review_lease_s)
    return BatchOut(
        items=[QueueItemOut.model_validate(i, from_attributes=True) for i in batch.items],
        left=batch.left,
        expires_in_s=batch.expires_in_s,
        refusal=batch.refusal,
    )
