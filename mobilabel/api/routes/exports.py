"""/api/exports: export the library into a folder of the server, as a job to follow."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ...exchange.labelstudio import LOCAL_FILES_URL
from ...exchange.library import ExportOptions
from ...storage.export_rows import ExportFilter, check_export_filter
from ...storage.filters import FilterError
from ...storage.review_state import DEFAULT_EXPORTED, ReviewState
from ..deps import PATH_MARK, PATTERN_MARK, SessionDep, SettingsDep, checked_pattern, confined
from ..services.export_runner import ExportRecord, ExportRunner

router = APIRouter(prefix="/api/exports", tags=["exports"])


class ExportRequest(BaseModel):
    destination: str = Field(
        description="Absolute path of a folder on the server, under MOBILABEL_ALLOWED_ROOTS (made if missing)",
        json_schema_extra=PATH_MARK,
    )
    format: Literal["imagefolder", "labelstudio"] = "imagefolder"
    mode: Literal["symlink", "hardlink", "copy"] = Field("symlink", description="imagefolder: how each image is placed")
    review_states: list[ReviewState] = Field(
        default_factory=lambda: list(DEFAULT_EXPORTED), min_length=1, description="which labels to export"
    )
    label: str | None = Field(None, description="only images with this (reviewed) label")
    job: int | None = Field(None, description="only the images this job covered")
    path: str | None = Field(
        None, description="only paths matching this shell pattern, as GET /api/results?path=", json_schema_extra=PATTERN_MARK
    )
    document_root: str = Field(
        "/", description="labelstudio: Label Studio's LOCAL_FILES_DOCUMENT_ROOT", json_schema_extra=PATTERN_MARK
    )
    image_url: str = Field(
        LOCAL_FILES_URL, description="labelstudio: what goes before each image's path relative to document_root"
    )


class ExportOut(BaseModel):
    id: int
    status: str = Field(description="queued, running, done or failed")
    destination: str
    format: str
    mode: str
    images: int = Field(description="images exported so far (in the manifest)")
    made: int = Field(description="of those, files made by this export (the rest were there already)")
    skipped: int = Field(description="images left out: gone, unreadable, or outside the document root")
    skipped_examples: list[tuple[str, str]] = Field(description="the first few skipped images, with why")
    labels: dict[str, int] = Field(description="images per label")
    removed: int = Field(description="files an earlier export into the same folder placed and this one does not, removed")
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def export_out(record: ExportRecord) -> ExportOut:
    summary = record.summary
    return ExportOut(
        id=record.id,
        status=record.status,
        destination=record.destination,
        format=record.options.fmt,
        mode=record.options.mode,
        images=summary.images,
        made=summary.made,
        skipped=summary.skipped,
        skipped_examples=summary.examples,
        labels=summary.labels,
        removed=summary.removed,
        error=record.error,
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


def _runner(request: Request) -> ExportRunner:
    runner: ExportRunner = request.app.state.exports
    return runner


@router.post(
    "", status_code=202, response_model=ExportOut, responses={403: {"description": "destination outside the allowed roots"}}
)
def create_export(body: ExportRequest, request: Request, settings: SettingsDep, session: SessionDep) -> ExportOut:
    """Export each image's reviewed label into a folder of the server (as `mobilabel export`): 202, then follow it with GET."""
    for text in (body.document_root, body.path):
        if text is not None:
            checked_pattern(text)
    confined(settings, body.destination, "destination")
    destination = Path(body.destination)  # kept as named, as the CLI's export does
    where = ExportFilter(tuple(body.review_states), body.label, body.job, body.path)
    try:
        check_export_filter(session, where)
    except FilterError as exc:
        raise HTTPException(422, str(exc)) from exc
    options = ExportOptions(body.format, body.mode, body.document_root, body.image_url)
    return export_out(_runner(request).submit(destination, where, options))


@router.get("", response_model=list[ExportOut])
def list_exports(request: Request) -> list[ExportOut]:
    """The exports this server ran since it started, newest first."""
    return [export_out(r) for r in _runner(request).list()]


@router.get("/{export_id}", response_model=ExportOut, responses={404: {"description": "no such export"}})
def get_export(export_id: int, request: Request) -> ExportOut:
    """One export: its progress, then its outcome."""
    record = _runner(request).get(export_id)
    if record is None:
        raise HTTPException(404, f"no export {export_id} (exports are remembered until the server stops)")
    return export_out(record)
