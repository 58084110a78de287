"""/api/accept: `mobilabel accept --precision P` over HTTP (the page's "Accept at precision" button)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ...accepting import AcceptError, accept
from ..deps import DatabaseDep

router = APIRouter(prefix="/api/accept", tags=["accept"])


class AcceptIn(BaseModel):
    precision: float = Field(gt=0, lt=1, description="the precision the accepted labels must have, with 95% confidence")
    dry_run: bool = Field(False, description="say what would be accepted and withdrawn; store nothing")


class ClassOut(BaseModel):
    label: str
    threshold: float | None = Field(description="the calibrated confidence its labels must reach; null: accepts nothing")
    accepted: int
    held_out: int = Field(description="held-out answers with this label at or above the threshold")
    right: int = Field(description="of them, labelled as the answer says")
    estimate: float | None
    bound: float | None = Field(description="the class's own one-sided 95% lower bound on its precision (Clopper-Pearson)")
    more_needed: int = Field(description="0 when it accepts; else at least how many more held-out answers, all right, it needs")
    kept: int
    newly_accepted: int
    withdrawn: int = Field(description="accepted before, not now: back to suggested")
    changed: int = Field(description="accepted before and again now, with another label")


class AcceptOut(BaseModel):
    version_id: str
    precision: float
    threshold: float | None = Field(description="the pooled threshold on calibrated confidence; null: nothing accepted")
    held_out: int
    right: int
    bound: float | None = Field(description="the accepted set's one-sided 95% lower bound on its precision")
    more_needed: int
    accepted: int
    suggested: int = Field(description="images of the active version nobody answered: coverage is accepted / suggested")
    answered: int = Field(description="accepted labels dropped because a person answered them since")
    dry_run: bool
    classes: list[ClassOut]


@router.post("", response_model=AcceptOut, responses={409: {"description": "no version of your own is active"}})
def accept_at(body: AcceptIn, db: DatabaseDep) -> AcceptOut:
    """Accept the active version's suggestions at a stated precision, re-checking those accepted before (docs/accepting.md)."""
    try:
        report = accept(db, body.precision, body.dry_run)
    except AcceptError as exc:
        raise HTTPException(409, str(exc)) from exc
    rule = report.rule
    return AcceptOut(
        version_id=report.version_id,
        precision=rule.precision,
        threshold=rule.threshold,
        held_out=rule.answers,
        right=rule.right,
        bound=rule.bound,
        more_needed=rule.more_needed,
        accepted=report.total,
        suggested=report.suggested,
        answered=report.answered,
        dry_run=report.dry_run,
        classes=[ClassOut(**row) for row in report.class_rows()],
    )
