"""What the review page needs: an image's labels across versions, two versions compared (label ->
label flips and the images behind each), a version's confusion matrix against verified labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from ...storage import review_queries as queries
from ...storage.accuracy_queries import out_of_fold_cells, trained_on_count
from ..deps import MAX_ROW_ID, RowId, SessionDep, version_named
from .results import ResultOut, results_out

router = APIRouter(tags=["review"])

Limit = Annotated[int, Query(ge=1, le=1000)]
After = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="id of the last result of the previous page")]


class Flip(BaseModel):
    label_a: str
    label_b: str
    images: int


class Comparison(BaseModel):
    version_a: str
    version_b: str
    images: int = Field(description="images both versions labelled")
    changed: int = Field(description="of those, how many got another label")
    flips: list[Flip]


class ConfusionCell(BaseModel):
    verified: str
    predicted: str
    images: int


class Confusion(BaseModel):
    version: str
    images: int = Field(
        description="held-out answers: answered images the version labelled and was not trained on, plus out_of_fold"
    )
    correct: int
    trained_on: int = Field(0, description="answers the version was trained on: counted only by their out-of-fold labels")
    out_of_fold: int = Field(
        0,
        description="of images, answers the version was trained on, by the label a model trained without them gave "
        "(k-fold, each fold fitted on the others: for a quick version its own head; for a fine-tuned one a "
        "ridge-classifier head on the frozen ImageNet features)",
    )
    cells: list[ConfusionCell]


@router.get(
    "/api/results/{result_id}/versions", response_model=list[ResultOut], responses={404: {"description": "no such result"}}
)
def image_versions(result_id: RowId, session: SessionDep) -> list[ResultOut]:
    """The label every model version gave this result's image, oldest version first."""
    rows = queries.image_versions(session, result_id)
    if rows is None:
        raise HTTPException(404, f"no result {result_id}")
    return results_out(session, rows)


@router.get("/api/models/compare", response_model=Comparison, responses={404: {"description": "no such version"}})
def compare(session: SessionDep, a: str, b: str) -> Comparison:
    """Version A against version B (each an id, a unique prefix or ``active``) on the images both labelled: label -> label flips with counts."""
    a, b = version_named(session, a), version_named(session, b)
    cells = queries.version_flips(session, a, b)
    return Comparison(
        version_a=a,
        version_b=b,
        images=sum(n for *_, n in cells),
        changed=sum(n for la, lb, n in cells if la != lb),
        flips=[Flip(label_a=la, label_b=lb, images=n) for la, lb, n in cells],
    )


@router.get("/api/models/compare/images", response_model=list[ResultOut])
def compare_images(
    session: SessionDep, a: str, b: str, label_a: str, label_b: str, limit: Limit = 100, after: After = 0
) -> list[ResultOut]:
    """Version B's results behind one flip cell; the next page: ``after`` = the last id."""
    a, b = version_named(session, a), version_named(session, b)
    return results_out(session, queries.flip_results(session, a, b, label_a, label_b, limit, after))


@router.get("/api/models/{version_id}/confusion", response_model=Confusion, responses={404: {"description": "no such version"}})
def confusion(version_id: str, session: SessionDep) -> Confusion:
    """The version's labels against the verified labels (corrections) of the images it labelled, held-out ones
    only: the answers it was trained on count only by their out-of-fold labels (``out_of_fold``, of ``trained_on``)."""
    version_id = version_named(session, version_id)
    cells = queries.confusion(session, version_id)
    return Confusion(
        version=version_id,
        images=sum(n for *_, n in cells),
        correct=sum(n for v, p, n in cells if v == p),
        trained_on=trained_on_count(session, version_id),
        out_of_fold=sum(n for *_, n in out_of_fold_cells(session, version_id)),
        cells=[ConfusionCell(verified=v, predicted=p, images=n) for v, p, n in cells],
    )


@router.get("/api/models/{version_id}/confusion/images", response_model=list[ResultOut])
def confusion_images(
    version_id: str, session: SessionDep, verified: str, predicted: str, limit: Limit = 100, after: After = 0
) -> list[ResultOut]:
    """The version's results in one cell of its confusion matrix."""
    version_id = version_named(session, version_id)
    return results_out(session, queries.confusion_results(session, version_id, verified, predicted, limit, after))
