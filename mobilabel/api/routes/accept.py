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
    checks: int = Field(description="check answers on images it labels with this class (counts only: the check bound is pooled)")
    checks_right: int = Field(description="of them, agreeing with its label")
    kept: int
    newly_accepted: int
    withdrawn: int = Field(description="accepted before, not now: back to suggested")
    changed: int = Field(description="accepted before and again now, with another label")


class CheckOut(BaseModel):
    """The check sample, when the held-out answers cannot certify the precision (docs/accepting.md)."""

    threshold: float = Field(description="the candidate threshold λ on calibrated confidence")
    size: int = Field(description="the candidate set: suggestions at or above λ with no answer but a check answer")
    checked: int = Field(description="of them, answered as checks (left out of what is accepted)")
    wrong: int = Field(description="check answers that disagree with the version's label (skip included)")
    bound: float | None = Field(description="the 95% lower bound on the precision of the set less its checked images")
    certified: bool
    more_needed: int | None = Field(
        description="0 when certified; else how many more check answers, all agreeing, are needed (`review next` asks "
        "for them, reason check); null: none would do"
    )


class AcceptOut(BaseModel):
    version_id: str
    precision: float
    threshold: float | None = Field(
        description="the pooled threshold on calibrated confidence (the held-out rule's, else the certified check set's); "
        "null: nothing accepted"
    )
    held_out: int
    right: int
    bound: float | None = Field(description="the accepted set's one-sided 95% lower bound on its precision")
    more_needed: int
    accepted: int
    suggested: int = Field(description="images of the active version nobody answered: coverage is accepted / suggested")
    answered: int = Field(description="accepted labels dropped because a person answered them since")
    dry_run: bool
    check: CheckOut | None = Field(description="the check sample; null when the held-out answers certify, or no set promises P")
    classes: list[ClassOut]


@router.post("", response_model=AcceptOut, responses={409: {"description": "no version of your own is active"}})
def accept_at(body: AcceptIn, db: DatabaseDep) -> AcceptOut:
    """Accept the active version's suggestions at a stated precision, re-checking those accepted before (docs/accepting.md)."""
    try:
        report = accept(db, body.precision, body.dry_run)
    except AcceptError as exc:
        raise HTTPException(409, str(exc)) from exc
    rule, check = report.rule, report.check
    return AcceptOut(
        version_id=report.version_id,
        precision=rule.precision,
        threshold=report.threshold,
        held_out=rule.answers,
        right=rule.right,
        bound=rule.bound,
        more_needed=rule.more_needed,
        accepted=report.total,
        suggested=report.suggested,
        answered=report.answered,
        dry_run=report.dry_run,
        check=None
        if check is None
        else CheckOut(
            threshold=check.threshold,
            size=check.size,
            checked=check.checked,
            wrong=check.wrong,
            bound=check.bound,
            certified=check.certified,
            more_needed=check.more_needed,
        ),  # fmt: skip
        classes=[ClassOut(**row) for row in report.class_rows()],
    )
