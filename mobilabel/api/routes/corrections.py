"""/api/corrections: verified labels, set, listed and deleted. Keyed as storage keys them: by the
image's content hash, with the path they were made on (``storage.corrections``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Response
from pydantic import BaseModel, Field, model_validator

from ...hashing import hash_file
from ...imaging import ImageReadError, load_source
from ...object_paths import ObjectPath
from ...storage.answer_queries import answer_history
from ...storage.corrections import CorrectionError, CorrectionRecord, delete_corrections, list_corrections, save_correction
from ...storage.result_queries import result_identity
from ..deps import PATH_MARK, DatabaseDep, RowId, SessionDep, SettingsDep, confined
from .suggestions import refresh_after_answer

router = APIRouter(prefix="/api/corrections", tags=["corrections"])
_HASH_PREFIX = re.compile(r"[0-9a-fA-F]{6,32}")


class CorrectionIn(BaseModel):
    label: str = Field(min_length=1, description="a class, other (none of my classes) or skip (not sure)")
    result_id: RowId | None = Field(None, description="the result whose image this label is for")
    image_path: str | None = Field(
        None,
        description="or the image's absolute path, under MOBILABEL_ALLOWED_ROOTS (its content is read to key the label)",
        json_schema_extra=PATH_MARK,
    )
    new_class: bool = Field(False, description="create a label that is no class yet as a class (as POST /api/classes)")
    reviewer: str | None = Field(
        None, min_length=1, description="who answers (the page asks once and keeps it); default MOBILABEL_REVIEWER"
    )
    kept_against: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the likely mistakes list's keep: the model label this answer keeps its label against; the answer "
        "is not listed there again while it and the model's label of it stand",
    )

    @model_validator(mode="after")
    def one_target(self) -> CorrectionIn:
        if (self.result_id is None) == (self.image_path is None):
            raise ValueError("give exactly one of result_id and image_path")
        return self


class CorrectionOut(BaseModel):
    content_hash: str | None
    image_path: str = Field(description="a file holding this content now (or, when stale, where the label was made)")
    label: str
    made_on: str
    state: str = Field(description="current, or stale: no known file has this content any more")
    updated_at: datetime
    reviewer: str | None = Field(description="who gave this answer")
    audit: bool = Field(description="an answer to an audit lease: held out of training, it measures accuracy")
    answer_group: str | None = Field(
        None, description="the group answered at once with it (POST /api/review/group), the same id on every member"
    )


def _result(session: SessionDep, result_id: int) -> tuple[str, str | None]:
    row = result_identity(session, result_id)
    if row is None:
        raise HTTPException(404, f"no result {result_id}")
    return row[0], row[1]


def _content_hash(settings: SettingsDep, path: str) -> str:
    """The content hash of a file a request names (or a result without one points at), read only once confined."""
    real = confined(settings, path)
    if isinstance(real, ObjectPath):
        try:
            return load_source(real).content_hash
        except ImageReadError as exc:
            raise HTTPException(422, f"cannot read {path}: {exc}") from None
    try:
        return hash_file(real)
    except OSError as exc:
        raise HTTPException(422, f"cannot read {path}: {exc.strerror or exc}") from None


@router.put(
    "",
    response_model=CorrectionOut,
    responses={
        201: {"model": CorrectionOut, "description": "the image's content had no verified label: this one was created"},
        404: {"description": "no such result"},
        422: {"description": "unknown label or unreadable file"},
    },
)
def set_correction(
    body: CorrectionIn,
    session: SessionDep,
    db: DatabaseDep,
    settings: SettingsDep,
    response: Response,
    background: BackgroundTasks,
) -> CorrectionOut:
    """Verify a label for an image's content: verifying it again replaces the label (200); a first
    label for that content is created (201). Answers with the correction as stored. Every
    MOBILABEL_REFRESH_EVERY answers, a quick head updates the suggestions once the answer is sent."""
    if body.result_id is not None:
        path, content_hash = _result(session, body.result_id)
    else:
        path, content_hash = str(body.image_path), None
    record = CorrectionRecord(path, body.label.strip(), content_hash or _content_hash(settings, path), body.kept_against)
    try:
        stored, created = save_correction(
            session,
            record,
            new_class=body.new_class,
            new_class_hint='send "new_class": true',
            reviewer=body.reviewer or settings.reviewer or None,
        )
    except CorrectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    if created:
        response.status_code = 201
    background.add_task(refresh_after_answer, db, settings)
    return CorrectionOut.model_validate(stored, from_attributes=True)


@router.get("", response_model=list[CorrectionOut])
def get_corrections(session: SessionDep) -> list[CorrectionOut]:
    """Every verified label, with where its content is now and whether it is stale."""
    return [CorrectionOut.model_validate(c, from_attributes=True) for c in list_corrections(session)]


class AnswerOut(BaseModel):
    image_path: str = Field(description="the file the answer was given on")
    label: str
    reviewer: str | None
    audit: bool = Field(description="given to an audit lease")
    answered_at: datetime


@router.get("/history", response_model=list[AnswerOut], responses={404: {"description": "no such result"}})
def get_history(
    session: SessionDep, result_id: Annotated[RowId, Query(description="the result whose image content's answers to list")]
) -> list[AnswerOut]:
    """Every answer given for the result's image content, oldest first: who answered what, and when."""
    _, content_hash = _result(session, result_id)
    if content_hash is None:
        return []
    return [AnswerOut.model_validate(a, from_attributes=True) for a in answer_history(session, content_hash)]


@router.delete("", status_code=204, responses={404: {"description": "no such result, or no correction for it"}})
def delete_correction(
    session: SessionDep,
    settings: SettingsDep,
    result_id: Annotated[RowId | None, Query(description="the result whose content's verified label goes")] = None,
    target: Annotated[
        str | None,
        Query(
            description="or an absolute path under MOBILABEL_ALLOWED_ROOTS (the file, or where the label was made if it is gone), "
            "or a content hash prefix of at least 6 hex digits (as `mobilabel correct --delete`)",
            json_schema_extra=PATH_MARK,
        ),
    ] = None,
) -> None:
    """Remove a verified label."""
    if (result_id is None) == (target is None):
        raise HTTPException(422, "give exactly one of result_id and target")
    if result_id is not None:
        path, content_hash = _result(session, result_id)
        target = content_hash or path
    elif target is not None and not _HASH_PREFIX.fullmatch(target):
        try:
            confined(settings, target)
        except HTTPException as exc:
            if exc.status_code != 404:  # a file gone since: its label is found by the path it was made on
                raise
    assert target is not None
    try:
        delete_corrections(session, target)
    except CorrectionError as exc:
        raise HTTPException(404, str(exc)) from exc
