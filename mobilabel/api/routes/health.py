"""Liveness, readiness and metrics: /healthz, /readyz, /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ...config import Settings
from ...storage import Database, migrations_runner
from ...storage import versions as stored_versions
from ...storage.database import SQLError, head_revision, schema_revision
from ...storage.leases import SERVING_LEASE_PREFIX, live_holders
from ..deps import DatabaseDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready; `checks` says what failed"}})
def readyz(db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """Ready when the database answers, its migrations are current and a model can be loaded. With a broker,
    ``checks.workers`` also says whether any worker process can label; it does not make the server unready,
    which still answers every query (alert on it, or on the workers' own metrics)."""
    checks = _checks(db, settings)
    ready = all(check["ok"] for name, check in checks.items() if name != "workers")
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(request.app.state.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _checks(db: Database, settings: Settings) -> dict[str, dict[str, object]]:
    try:
        current = schema_revision(db.engine)
    except SQLError as exc:
        failed = {"ok": False, "detail": f"database unreachable: {exc.__class__.__name__}"}
        return {"database": failed, "migrations": failed, "model": failed}
    head = head_revision()
    advice = "" if current == head else ": run `mobilabel db upgrade`"
    if current not in (None, head) and not migrations_runner.is_known(current):
        advice = ": written by a newer mobilabel; upgrade this one"
    migrations = {"ok": current == head, "detail": f"at {current}, latest {head}{advice}"}
    checks = {"database": {"ok": True, "detail": "reachable"}, "migrations": migrations, "model": _model_check(db, settings)}
    if settings.broker_configured:
        checks["workers"] = _workers_check(db)
    return checks


def _workers_check(db: Database) -> dict[str, object]:
    """With a broker, jobs go to the workers: ready when at least one pool process has its model loaded
    (each holds a lease saying so while it lives, ``worker.runtime.warm_up``)."""
    with db.transaction() as session:
        holders = live_holders(session, SERVING_LEASE_PREFIX)
    serving = [h for h in holders if h.endswith(" serving")]
    unable = sorted(h for h in holders if " unable: " in h)
    if serving:
        return {
            "ok": True,
            "detail": f"{len(serving)} worker processes serving" + (f"; {len(unable)} cannot: {unable[0]}" if unable else ""),
        }
    if unable:
        return {"ok": False, "detail": f"no worker process can serve: {'; '.join(unable[:3])}"}
    return {"ok": False, "detail": "no worker process has said it is serving: start `mobilabel worker`, or see the workers' logs"}


def _model_check(db: Database, settings: Settings) -> dict[str, object]:
    """Whether labelling would find weights, asked as `label` resolves them, without loading torch
    unless only torchvision's own cache is left to look at."""
    with db.transaction() as session:
        active = stored_versions.active_version_id(session)
        registered = stored_versions.newest_imagenet_version_id(session)
    if active:
        return {"ok": True, "detail": f"active version {active}"}
    if settings.pretrained is not None:
        ok = settings.pretrained.is_file()
        return {"ok": ok, "detail": f"MOBILABEL_PRETRAINED {settings.pretrained}" + ("" if ok else " is not a file")}
    if registered:
        return {"ok": True, "detail": f"registered ImageNet weights {registered}"}
    from ...versions.checkpoints import find_pretrained  # loads torch: only when nothing cheaper answered

    found = find_pretrained(settings)
    return {"ok": found is not None, "detail": str(found) if found else "no weights: set MOBILABEL_PRETRAINED or train a model"}
