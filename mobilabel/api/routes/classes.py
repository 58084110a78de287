"""/api/classes: your own classes with their answers; added, renamed, merged, retired and restored
(``storage.classes``). Names travel in bodies, never in the URL, so any name (a slash in it) works."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...storage import classes as stored
from ...storage.class_queries import list_classes
from ...storage.classes import ClassError
from ..deps import SessionDep

router = APIRouter(prefix="/api/classes", tags=["classes"])
_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such class (the message lists them and the nearest)"},
    409: {"description": "the name is a class already"},
    400: {"description": "a reserved (other, skip) or empty name"},
}


class ClassOut(BaseModel):
    name: str
    state: str = Field(description="active, retired (answers kept, neither trained on nor offered), or reserved (other, skip)")
    answers: int = Field(description="standing answers that name it")
    audit_answers: int = Field(description="of them, answers to audit leases: held out of training")
    check_answers: int = Field(description="of them, answers to check leases: never trained on, they certify `accept`")
    created_at: datetime | None
    retired_at: datetime | None


class NameIn(BaseModel):
    name: str = Field(min_length=1)


class RenameIn(BaseModel):
    old: str = Field(min_length=1)
    new: str = Field(min_length=1)


class MergeIn(BaseModel):
    sources: list[str] = Field(min_length=1, description="the classes whose answers move; they are removed")
    into: str = Field(min_length=1, description="the class that receives them (it must exist)")


class MovedOut(BaseModel):
    answers: int = Field(description="the standing answers that now name the new class")


def refusal_status(exc: ClassError) -> int:
    """The HTTP status of a refused class change (``_ERRORS``); the app's one handler of ``ClassError`` answers with it,
    so the routes below let the storage's refusals rise (their transaction rolled back as they pass)."""
    return 404 if isinstance(exc, stored.UnknownClassError) else 409 if isinstance(exc, stored.ClassExistsError) else 400


@router.get("", response_model=list[ClassOut])
def get_classes(session: SessionDep) -> list[ClassOut]:
    """Every class by name, then the reserved answers (other, skip), with their answer counts."""
    return [ClassOut.model_validate(c, from_attributes=True) for c in list_classes(session)]


@router.post("", status_code=201, response_model=NameIn, responses=_ERRORS)
def add_class(body: NameIn, session: SessionDep) -> NameIn:
    """Create a class; answers may use it at once. Answers with the name as stored (blanks trimmed)."""
    return NameIn(name=stored.add_class(session, body.name))


@router.post("/rename", response_model=MovedOut, responses=_ERRORS)
def rename_class(body: RenameIn, session: SessionDep) -> MovedOut:
    """Rename a class with every answer that used it."""
    return MovedOut(answers=stored.rename_class(session, body.old, body.new))


@router.post("/merge", response_model=MovedOut, responses=_ERRORS)
def merge_classes(body: MergeIn, session: SessionDep) -> MovedOut:
    """Move every answer of ``sources`` into ``into``, then remove ``sources``."""
    return MovedOut(answers=stored.merge_classes(session, list(dict.fromkeys(body.sources)), body.into))


@router.post("/retire", status_code=204, responses=_ERRORS)
def retire_class(body: NameIn, session: SessionDep) -> None:
    """Retire a class: its answers are kept, neither trained on nor offered."""
    stored.retire_class(session, body.name)


@router.post("/restore", status_code=204, responses=_ERRORS)
def restore_class(body: NameIn, session: SessionDep) -> None:
    """Bring a retired class back."""
    stored.restore_class(session, body.name)
