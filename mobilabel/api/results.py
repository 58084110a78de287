"""/api/results: filtered, sorted result pages by cursor, and streamed exports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ..export import export_text
from ..storage.results import ResultFilter
from ..storage.tables import Result
from .deps import SessionDep
from .result_queries import KEYSET_SORTS, BadCursorError, ordered_statement, results_page

router = APIRouter(prefix="/api/results", tags=["results"])

SortName = Literal["path", "label", "confidence", "-confidence", "time", "-time"]
assert set(SortName.__args__) == set(KEYSET_SORTS)  # type: ignore[attr-defined]
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}


class ResultOut(BaseModel):
    id: int
    image_path: str
    label: str | None
    confidence: float | None
    top_k: list[dict[str, Any]] | None
    status: str
    error: str | None
    model_version_id: str
    job_id: int | None
    updated_at: datetime


class ResultPage(BaseModel):
    items: list[ResultOut]
    next_cursor: str | None


def result_filter(
    job: int | None = None,
    label: str | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    status: Literal["ok", "failed"] | None = None,
    version: str | None = None,
    path: Annotated[str | None, Query(description="shell pattern (* and ?), matched anywhere in the path")] = None,
    sort: SortName = "path",
) -> ResultFilter:
    """The CLI's filters (`mobilabel results`), as query parameters."""
    return ResultFilter(job, label, min_confidence, max_confidence, path, status, version, sort)


FilterDep = Annotated[ResultFilter, Depends(result_filter)]


def result_out(row: Result) -> ResultOut:
    return ResultOut.model_validate(row, from_attributes=True)


@router.get("", response_model=ResultPage)
def list_results(
    where: FilterDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ResultPage:
    """A page of results; pass ``next_cursor`` back as ``cursor`` for the next one."""
    try:
        page = results_page(session, where, limit, cursor)
    except BadCursorError as exc:
        raise HTTPException(400, str(exc)) from exc
    return ResultPage(items=[result_out(r) for r in page.rows], next_cursor=page.next_cursor)


@router.get("/export", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}, "application/jsonl": {}}}})
def export_results(where: FilterDep, request: Request, format: Literal["csv", "jsonl"] = "csv") -> StreamingResponse:
    """Every matching result, streamed as CSV or JSON Lines in constant memory."""
    chunks = (c.encode() for c in export_text(request.app.state.db, ordered_statement(where), format))
    filename = f"results.{format}"
    return StreamingResponse(chunks, media_type=_MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{result_id}", response_model=ResultOut, responses={404: {"description": "no such result"}})
def get_result(result_id: int, session: SessionDep) -> ResultOut:
    row = session.get(Result, result_id)
    if row is None:
        raise HTTPException(404, f"no result {result_id}")
    return result_out(row)
