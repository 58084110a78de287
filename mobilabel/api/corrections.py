"""/api/corrections: verified labels, set, listed and deleted. Keyed as storage keys them: by the
image's content hash, with the path they were made on (``storage.corrections``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from ..storage.corrections import CorrectionError, CorrectionRecord, delete_corrections, list_corrections, save_correction
from ..storage.tables import Result
from .deps import SessionDep

router = APIRouter(prefix="/api/corrections", tags=["corrections"])


class CorrectionIn(BaseModel):
    label: str = Field(min_length=1)
    result_id: int | None = Field(None, description="the result whose image this label is for")
    image_path: str | None = Field(None, description="or the image's absolute path (its content is read to key the label)")
    new_class: bool = Field(False, description="allow a label no model version knows yet")

    @model_validator(mode="after")
    def one_target(self) -> CorrectionIn:
        if (self.result_id is None) == (self.image_path is None):
            raise ValueError("give exactly one of result_id and image_path")
        if self.image_path is not None and not Path(self.image_path).is_absolute():
            raise ValueError("image_path must be absolute")
        return self


class CorrectionOut(BaseModel):
    content_hash: str | None
    image_path: str = Field(description="a file holding this content now (or, when stale, where the label was made)")
    label: str
    made_on: str
    state: str = Field(description="current, or stale: no known file has this content any more")
    updated_at: datetime


def _result(session: SessionDep, result_id: int) -> tuple[str, str | None]:
    row = session.execute(select(Result.image_path, Result.content_hash).where(Result.id == result_id)).first()
    if row is None:
        raise HTTPException(404, f"no result {result_id}")
    return row[0], row[1]


@router.put(
    "",
    response_model=CorrectionOut,
    responses={
        201: {"model": CorrectionOut, "description": "the image's content had no verified label: this one was created"},
        404: {"description": "no such result"},
        422: {"description": "unknown label or unreadable file"},
    },
)
def set_correction(body: CorrectionIn, session: SessionDep, response: Response) -> CorrectionOut:
    """Verify a label for an image's content: verifying it again replaces the label (200); a first
    label for that content is created (201). Answers with the correction as stored."""
    if body.result_id is not None:
        path, content_hash = _result(session, body.result_id)
        record = CorrectionRecord(path, body.label.strip(), content_hash)
    else:
        record = CorrectionRecord(str(body.image_path), body.label.strip())
    try:
        stored, created = save_correction(session, record, new_class=body.new_class, new_class_hint='send "new_class": true')
    except CorrectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    if created:
        response.status_code = 201
    return CorrectionOut.model_validate(stored, from_attributes=True)


@router.get("", response_model=list[CorrectionOut])
def get_corrections(session: SessionDep) -> list[CorrectionOut]:
    """Every verified label, with where its content is now and whether it is stale."""
    return [CorrectionOut.model_validate(c, from_attributes=True) for c in list_corrections(session)]


@router.delete("", status_code=204, responses={404: {"description": "no such result, or no correction for it"}})
def delete_correction(
    session: SessionDep,
    result_id: Annotated[int | None, Query(description="the result whose content's verified label goes")] = None,
    target: Annotated[str | None, Query(description="or a path, or a content hash prefix (as `mobilabel correct --delete`)")] = None,
) -> None:
    """Remove a verified label."""
    if (result_id is None) == (target is None):
        raise HTTPException(422, "give exactly one of result_id and target")
    if result_id is not None:
        path, content_hash = _result(session, result_id)
        target = content_hash or path
    assert target is not None
    try:
        delete_corrections(session, target)
    except CorrectionError as exc:
        raise HTTPException(404, str(exc)) from exc
