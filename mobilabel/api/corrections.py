"""/api/corrections: verified labels, set, listed and deleted. Keyed by image path as storage keys
them today (the label-lifecycle work re-keys them by content hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import delete, select

from ..storage.corrections import CorrectionRecord, list_corrections, save_corrections
from ..storage.tables import Correction, Result
from .deps import SessionDep

router = APIRouter(prefix="/api/corrections", tags=["corrections"])


class CorrectionIn(BaseModel):
    label: str = Field(min_length=1)
    result_id: int | None = Field(None, description="the result whose image this label is for")
    image_path: str | None = Field(None, description="or the image's absolute path")

    @model_validator(mode="after")
    def one_target(self) -> CorrectionIn:
        if (self.result_id is None) == (self.image_path is None):
            raise ValueError("give exactly one of result_id and image_path")
        if self.image_path is not None and not Path(self.image_path).is_absolute():
            raise ValueError("image_path must be absolute")
        return self


class CorrectionOut(BaseModel):
    image_path: str
    label: str


@router.put("", response_model=CorrectionOut, responses={404: {"description": "no such result"}})
def set_correction(body: CorrectionIn, session: SessionDep) -> CorrectionOut:
    """Verify a label for an image: correcting it again replaces the label."""
    path = body.image_path if body.result_id is None else _result_path(session, body.result_id)
    assert path is not None
    save_corrections(session, [CorrectionRecord(path, body.label.strip())])
    return CorrectionOut(image_path=path, label=body.label.strip())


@router.get("", response_model=list[CorrectionOut])
def get_corrections(session: SessionDep) -> list[CorrectionOut]:
    return [CorrectionOut(image_path=c.image_path, label=c.label) for c in list_corrections(session)]


@router.delete("", status_code=204, responses={404: {"description": "no such result, or no correction for its image"}})
def delete_correction(
    session: SessionDep,
    result_id: Annotated[int | None, Query(description="the result whose image's verified label goes")] = None,
    image_path: Annotated[str | None, Query(description="or the image's path")] = None,
) -> None:
    """Remove an image's verified label."""
    if (result_id is None) == (image_path is None):
        raise HTTPException(422, "give exactly one of result_id and image_path")
    path = image_path if result_id is None else _result_path(session, result_id)
    deleted = session.execute(delete(Correction).where(Correction.image_path == path))
    if deleted.rowcount == 0:  # type: ignore[attr-defined]
        raise HTTPException(404, f"no correction for {path}")


def _result_path(session: SessionDep, result_id: int) -> str:
    path = session.scalar(select(Result.image_path).where(Result.id == result_id))
    if path is None:
        raise HTTPException(404, f"no result {result_id}")
    return path
