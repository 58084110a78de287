"""Likely mistakes, near-duplicate groups, "more like this" and one answer for a group (issue 29;
``mobilabel.library_curation``). Answers of a group land in the answer history one per member."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from ...curation.duplicates import DEFAULT_THRESHOLD
from ...library_curation import answer_group, duplicate_groups, likely_mistakes, more_like_this
from ...library_index import CurationError
from ...storage.corrections import CorrectionError
from ..deps import DatabaseDep, RowId, SettingsDep

router = APIRouter(tags=["review"])


class MistakeOut(BaseModel):
    result_id: int
    image_path: str
    given_label: str = Field(
        description="the label standing on the image: its answer, else its accepted label, else its folder's"
    )
    source: str = Field(description="where the given label comes from: answer, accepted (mobilabel accept) or folder")
    model_label: str = Field(
        description="what a model that did not train on this label says: for an answer, the active version's held-out "
        "prediction (out-of-fold if it trained on it); else a softmax head on the embeddings fitted without it"
    )
    given_probability: float = Field(description="that model's calibrated probability of the given label")
    model_probability: float = Field(description="that model's calibrated probability of its own label")
    flagged: bool = Field(description="the model's label is another and reaches that class's threshold (confident learning)")
    why: str = Field(description="why it was flagged, in words")


class MistakesOut(BaseModel):
    items: list[MistakeOut] = Field(description="likeliest mistake first")
    checked: int = Field(description="labels checked: answers, accepted labels and folder labels on embedded images")


class MemberOut(BaseModel):
    result_id: int
    image_path: str
    label: str | None = Field(description="the standing answer, else the model's label")
    answered: bool
    similarity: float | None = Field(None, description="cosine similarity to the query (neighbours only)")


class GroupsOut(BaseModel):
    groups: list[list[MemberOut]] = Field(description="near-duplicate groups, largest first")


class NeighboursOut(BaseModel):
    items: list[MemberOut] = Field(description="most similar first, the query itself left out")


class GroupAnswerIn(BaseModel):
    result_ids: list[RowId] = Field(min_length=1, max_length=10_000, description="the members to answer")
    label: str = Field(min_length=1, max_length=200, description="a class, other or skip")
    reviewer: str | None = Field(None, max_length=200, description="who answers (default: MOBILABEL_REVIEWER)")
    new_class: bool = Field(False, description="create the label as a class if it is none yet")


class GroupAnswerOut(BaseModel):
    group: str = Field(description="the group id noted on each member's answer")
    answers: int = Field(description="answer rows written, one per member")


def _not_ready(exc: CurationError) -> HTTPException:
    return HTTPException(409, str(exc))


@router.get(
    "/api/review/mistakes", response_model=MistakesOut, responses={409: {"description": "no embeddings or too few labels"}}
)
def review_mistakes(db: DatabaseDep, count: Annotated[int, Query(ge=1, le=10_000)] = 20) -> MistakesOut:
    """The labels likeliest to be wrong (answers, accepted and folder labels): those a model trained without them
    (out-of-fold) disagrees with most."""
    try:
        found, checked = likely_mistakes(db, count)
    except CurationError as exc:
        raise _not_ready(exc) from exc
    return MistakesOut(items=[MistakeOut.model_validate(m, from_attributes=True) for m in found], checked=checked)


@router.get("/api/review/duplicates", response_model=GroupsOut, responses={409: {"description": "no embeddings yet"}})
def review_duplicates(db: DatabaseDep, threshold: Annotated[float, Query(gt=0, le=1)] = DEFAULT_THRESHOLD) -> GroupsOut:
    """Groups of near-identical photos (bursts, crops, resizes, recompressions, colour edits)."""
    try:
        groups = duplicate_groups(db, threshold)
    except CurationError as exc:
        raise _not_ready(exc) from exc
    return GroupsOut(groups=[[MemberOut.model_validate(m, from_attributes=True) for m in g] for g in groups])


@router.get(
    "/api/results/{result_id}/similar", response_model=NeighboursOut, responses={404: {"description": "no such embedded result"}}
)
def similar_results(result_id: RowId, db: DatabaseDep, count: Annotated[int, Query(ge=1, le=1000)] = 20) -> NeighboursOut:
    """More like this: the images most like a result, with their labels."""
    try:
        found = more_like_this(db, result_id, count)
    except CurationError as exc:
        raise HTTPException(404, str(exc)) from exc
    return NeighboursOut(items=[MemberOut.model_validate(m, from_attributes=True) for m in found])


@router.post(
    "/api/review/group",
    response_model=GroupAnswerOut,
    responses={404: {"description": "no such result"}, 422: {"description": "unknown label"}},
)
def review_group(body: GroupAnswerIn, db: DatabaseDep, settings: SettingsDep) -> GroupAnswerOut:
    """One answer for a group (near-duplicates, a "more like this" selection): one answer row per member, the group noted."""
    try:
        group, written = answer_group(
            db,
            body.result_ids,
            body.label.strip(),
            body.reviewer or settings.reviewer or None,
            body.new_class,
            'send "new_class": true',
        )
    except CurationError as exc:
        raise HTTPException(404, str(exc)) from exc
    except CorrectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return GroupAnswerOut(group=group, answers=written)
