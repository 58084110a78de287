"""/api/results: filtered, sorted result pages by cursor, and streamed exports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ...export import export_text
from ...storage.database import DbSession
from ...storage.filters import FilterError, check_filter
from ...storage.result_pages import KEYSET_SORTS, BadCursorError, ordered_statement, results_page
from ...storage.result_queries import ResultFilter
from ...storage.review_state import ReviewState, ReviewStateError, parse_review_states, reviews, row_review
from ...storage.tables import Result
from ...storage.versions import UnknownVersionError
from ..deps import PATTERN_MARK, DatabaseDep, RowId, SessionDep, checked_pattern

router = APIRouter(prefix="/api/results", tags=["results"])

SortName = Literal["path", "label", "confidence", "-confidence", "time", "-time"]
assert set(SortName.__args__) == set(KEYSET_SORTS)  # type: ignore[attr-defined]
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}


class Ranked(BaseModel):
    label: str
    confidence: float


class ResultOut(BaseModel):
    id: int
    image_path: str
    label: str | None
    confidence: float | None
    top_k: list[Ranked] | None
    status: str
    error: str | None
    warning: str | None
    model_version_id: str
    job_id: int | None
    content_hash: str | None
    content_id: str | None = Field(
        description="the file's fingerprint (size:mtime_ns) when labelled: the thumbnail's ?v= cache key"
    )
    verified_label: str | None = None
    review_state: ReviewState | None = Field(
        "suggested",
        description="verified (a person answered), accepted (`accept` at a stated precision) or suggested; "
        "null for a failed row neither answered nor accepted (it suggests nothing)",
    )
    accepted_label: str | None = Field(None, description="the label `accept` accepted (it stands until `accept` runs again)")
    accepted_by_version: str | None = Field(None, description="the version whose label `accept` accepted")
    accepted_threshold: float | None = Field(None, description="the calibrated confidence the accepted label cleared")
    updated_at: datetime


_REVIEW_FIELDS = ("verified_label", "accepted_label", "accepted_by_version", "accepted_threshold")


class ResultPage(BaseModel):
    items: list[ResultOut]
    next_cursor: str | None


def result_filter(
    job: RowId | None = None,
    label: str | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    status: Literal["ok", "failed"] | None = None,
    version: str | None = None,
    path: Annotated[
        str | None,
        Query(
            description="shell pattern (* and ?): from the root if it starts with / (under that folder), "
            "else anywhere in the path",
            json_schema_extra=PATTERN_MARK,
        ),
    ] = None,
    sort: SortName = "path",
    all_versions: Annotated[bool, Query(description="every version's row of each image, not only its current one")] = False,
    unreviewed: Annotated[
        bool, Query(description="only images whose content has no answer yet (a class, other or skip)")
    ] = False,
    review_state: Annotated[
        str | None, Query(description="only images in these review states, comma-separated: verified, accepted, suggested")
    ] = None,
) -> ResultFilter:
    """The CLI's filters (`mobilabel results`), as query parameters; ``version`` takes an id, a unique prefix or ``active``."""
    pattern = None if path is None else checked_pattern(path)
    try:
        states = None if review_state is None else parse_review_states(review_state)
    except ReviewStateError as exc:
        raise HTTPException(422, str(exc)) from exc
    return ResultFilter(
        job,
        label,
        min_confidence,
        max_confidence,
        pattern,
        status,
        version,
        sort,
        all_versions=all_versions,
        unreviewed=unreviewed,
        review_states=states,
    )


FilterDep = Annotated[ResultFilter, Depends(result_filter)]


def results_out(session: DbSession, rows: list[Result]) -> list[ResultOut]:
    """Rows with who stands behind their content's label (the verified label, the review state, the acceptance)
    beside them: every endpoint returning result rows uses this."""
    found = reviews(session, (r.content_hash for r in rows))
    out = []
    for r in rows:
        review = row_review(found, r.content_hash, r.status)
        update = {name: getattr(review, name) for name in _REVIEW_FIELDS} | {"review_state": review.state}
        out.append(ResultOut.model_validate(r, from_attributes=True).model_copy(update=update))
    return out


def checked(session: SessionDep, where: ResultFilter) -> ResultFilter:
    """``where`` with its version resolved; 422 naming what exists for a job, label or version that does not."""
    try:
        return check_filter(session, where)
    except (FilterError, UnknownVersionError) as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("", response_model=ResultPage)
def list_results(
    where: FilterDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ResultPage:
    """A page of results; pass ``next_cursor`` back as ``cursor`` for the next one."""
    try:
        page = results_page(session, checked(session, where), limit, cursor)
    except BadCursorError as exc:
        raise HTTPException(400, str(exc)) from exc
    return ResultPage(items=results_out(session, page.rows), next_cursor=page.next_cursor)


@router.get("/export", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}, "application/jsonl": {}}}})
def export_results(where: FilterDep, db: DatabaseDep, format: Literal["csv", "jsonl"] = "csv") -> StreamingResponse:
    """Every matching result, streamed as CSV or JSON Lines in constant memory (the columns of
    `mobilabel results --format csv`, with the verified label)."""
    with db.transaction() as session:
        where = checked(session, where)
    chunks = (c.encode() for c in export_text(db, ordered_statement(where), format))
    filename = f"results.{format}"
    return StreamingResponse(
        chunks, media_type=_MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/{result_id}", response_model=ResultOut, responses={404: {"description": "no such result"}})
def get_result(result_id: RowId, session: SessionDep) -> ResultOut:
    row = session.get(Result, result_id)
    if row is None:
        raise HTTPException(404, f"no result {result_id}")
    (out,) = results_out(session, [row])
    return out
