"""/api/models: model versions with their metrics; activate, roll back, delete, the training report PNG."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, computed_field

from ...calibration import CALIBRATION_METRIC
from ...estimates import estimate
from ...storage import versions as stored
from ...storage.accuracy_queries import audit_outcomes
from ...storage.tables import ModelVersion
from ...versions import lifecycle
from ...versions.files import report_file
from ..deps import DatabaseDep, SessionDep, SettingsDep, version_named

router = APIRouter(prefix="/api/models", tags=["models"])


class VersionOut(BaseModel):
    id: str
    arch: str
    alpha: float
    classes: list[str]
    metrics: dict[str, Any]
    source: str
    size_bytes: int
    active: bool
    created_at: datetime
    activated_at: datetime | None

    @computed_field(description="the ImageNet weights: they label with ImageNet's 1,000 classes, not yours")  # type: ignore[prop-decorator]
    @property
    def imagenet(self) -> bool:
        return self.id.startswith(stored.IMAGENET_PREFIX)


class EstimateOut(BaseModel):
    version_id: str
    audit_answers: int = Field(
        description="audit answers (uniform draws, held out of training) whose image this version labelled"
    )
    right: int = Field(description="of them, labelled as the answer says")
    accuracy: float | None = Field(description="estimated accuracy on the unreviewed rest; null without audit answers")
    low: float | None = Field(description="its 95% interval (Wilson), lower end")
    high: float | None


class BinOut(BaseModel):
    low: float
    high: float
    count: int
    confidence: float | None = Field(description="the bin's mean confidence; null for an empty bin")
    accuracy: float | None = Field(description="the share of its images labelled right")


class CalibrationOut(BaseModel):
    version_id: str
    temperature: float = Field(description="logits are divided by it before the softmax (Guo et al., 2017)")
    images: int = Field(description="the held-out images it was fitted on (the version's validation split)")
    ece_before: float = Field(description="expected calibration error of the raw softmax, 15 bins")
    ece_after: float
    reliability_before: list[BinOut]
    reliability_after: list[BinOut]


class ActiveOut(BaseModel):
    active: str


class DeletedOut(BaseModel):
    deleted: str
    results: int = Field(description="result rows deleted with it")


def version_out(version: ModelVersion) -> VersionOut:
    return VersionOut.model_validate(version, from_attributes=True)


@router.get("", response_model=list[VersionOut])
def list_versions(session: SessionDep) -> list[VersionOut]:
    """Every version, newest first."""
    return [version_out(v) for v in stored.list_versions(session)]


@router.get("/{version_id}", response_model=VersionOut, responses={404: {"description": "no such version"}})
def get_version(version_id: str, session: SessionDep) -> VersionOut:
    """One version: ``version_id`` is an id, a unique prefix or ``active``."""
    version = stored.get_version(session, version_named(session, version_id))
    assert version is not None  # resolved just now, in this transaction
    return version_out(version)


@router.post("/{version_id}/activate", response_model=ActiveOut, responses={404: {"description": "no such version"}})
def activate(version_id: str, session: SessionDep) -> ActiveOut:
    """Make this version (an id or a unique prefix) the active one (recorded, so rollback can return)."""
    return ActiveOut(active=lifecycle.activate(session, version_named(session, version_id)))


@router.post("/rollback", response_model=ActiveOut, responses={409: {"description": "nothing to roll back to"}})
def rollback(session: SessionDep) -> ActiveOut:
    """Re-activate the version active before the current one."""
    try:
        return ActiveOut(active=stored.rollback(session))
    except stored.NothingToRollBackError as exc:
        raise HTTPException(409, str(exc)) from exc


@router.delete(
    "/{version_id}",
    response_model=DeletedOut,
    responses={404: {"description": "no such version"}, 409: {"description": "the active version, or one a running job uses"}},
)
def delete_version(version_id: str, db: DatabaseDep, settings: SettingsDep) -> DeletedOut:
    """Delete this version (an id or a unique prefix; not the active one): its checkpoint, every result it gave,
    and its checkpoint and report files on this server, as `mobilabel models delete` does."""
    with db.transaction() as session:
        version_id = version_named(session, version_id)
    try:
        use = lifecycle.delete(db, settings, version_id)
    except stored.ActiveVersionError as exc:
        raise HTTPException(409, str(exc)) from exc
    except stored.UnknownVersionError as exc:
        raise HTTPException(404, str(exc)) from exc
    return DeletedOut(deleted=version_id, results=use.results)


@router.get(
    "/{version_id}/report.png", response_class=FileResponse, responses={404: {"description": "no report for this version"}}
)
def report(version_id: str, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """The training curves and confusion matrix `mobilabel train` drew for this version."""
    version_id = version_named(session, version_id)
    png = report_file(settings, version_id)  # the id is a known version's, never a path from the request
    if not png.is_file():
        raise HTTPException(404, f"no training report for {version_id} on this server")
    return FileResponse(png, media_type="image/png")


@router.get(
    "/{version_id}/calibration",
    response_model=CalibrationOut,
    responses={404: {"description": "no such version, or not calibrated"}},
)
def get_calibration(version_id: str, session: SessionDep) -> CalibrationOut:
    """The version's temperature, its expected calibration error before and after, and the reliability diagram's bins."""
    version_id = version_named(session, version_id)
    version = stored.get_version(session, version_id)
    assert version is not None  # resolved just now, in this transaction
    fitted = version.metrics.get(CALIBRATION_METRIC)
    if not isinstance(fitted, dict):
        raise HTTPException(404, f"version {version_id} was not calibrated (only versions trained since calibration are)")
    return CalibrationOut(version_id=version_id, **fitted)


@router.get("/{version_id}/estimate", response_model=EstimateOut, responses={404: {"description": "no such version"}})
def get_estimate(version_id: str, session: SessionDep) -> EstimateOut:
    """The version's estimated accuracy on the images nobody answered, from the audit answers, with its 95% interval."""
    version_id = version_named(session, version_id)
    found = estimate(*audit_outcomes(session, version_id))
    return EstimateOut(
        version_id=version_id,
        audit_answers=found.answers,
        right=found.right,
        accuracy=found.accuracy,
        low=found.low,
        high=found.high,
    )
