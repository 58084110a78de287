"""The app factory: one FastAPI app per settings, with its database, job runner and predictor."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, SQLAlchemyError

from ..broker import BrokerError
from ..config import Settings
from ..errors import MobilabelError
from ..storage import Database, open_database
from ..storage.retry import is_transient
from . import (
    accept,
    classes,
    corrections,
    distribution,
    exports,
    health,
    images,
    jobs,
    meta,
    models,
    predict,
    results,
    review,
    review_queue,
    runs,
    security,
)
from .docs import mount_docs
from .export_runner import ExportRunner
from .headers import SecurityHeadersMiddleware, trusted_hosts
from .heap import freeze_long_lived, thaw
from .job_runner import JobRunner
from .metrics import RequestMetrics
from .page import mount_page
from .security import Guard, SecurityMiddleware
from .sessions import Sessions
from .upload_limit import UploadLimitMiddleware

log = logging.getLogger(__name__)


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    """The API app. ``database`` defaults to one opened from ``settings.database_url``
    (an embedded SQLite file is migrated on the spot, a server database must be current).

    Raises ``DatabaseError`` when the database cannot be used.
    """
    db = database or open_database(settings.database_url)
    runner = JobRunner(db, settings)
    export_runner = ExportRunner(db)
    request_metrics = RequestMetrics()
    predictor = predict.Predictor(db, settings, request_metrics.predict_batch.observe)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        freeze_long_lived()
        yield
        predictor.close()
        runner.close()
        export_runner.close()
        if database is None:
            db.dispose()
        thaw()

    app = FastAPI(
        title="mobilabel",
        summary="Label folders of images with MobileNet; query, correct and retrain.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served from the package's own copies (see docs), not a CDN
        redoc_url=None,  # see docs: ReDoc needs its vendor's CDN
    )
    app.state.settings = settings
    app.state.db = db
    app.state.runner = runner
    app.state.exports = export_runner
    app.state.predictor = predictor
    app.state.metrics = request_metrics
    app.state.guard = Guard(settings.api_token, settings.cors_origins, Sessions(settings.session_ttl_s))
    if not settings.allowed_roots:
        log.warning(
            "MOBILABEL_ALLOWED_ROOTS is not set: every operation naming a path (jobs, training runs, images, corrections by path) answers 403"
        )

    # Added innermost first: metrics see every answer, the Host check runs before anything else looks
    # at a request, every answer (refusals included) gets the security headers, CORS answers
    # preflights before the token check, and the upload limit applies only to callers who passed it.
    app.add_middleware(UploadLimitMiddleware, max_bytes=settings.max_upload_bytes, paths=(predict.PREDICT_PATH,))
    app.add_middleware(SecurityMiddleware, guard=app.state.guard)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    hosts = trusted_hosts(settings.allowed_hosts, settings.api_token)
    if hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    app.middleware("http")(request_metrics.middleware)

    @app.exception_handler(MobilabelError)
    async def user_error(_: Request, exc: MobilabelError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(BrokerError)
    async def broker_unreachable(_: Request, exc: BrokerError) -> JSONResponse:
        # Not the client's fault, and it may pass: 503, with the reason (the URL's password masked).
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(DataError)
    async def unstorable_value(_: Request, exc: DataError) -> JSONResponse:
        # A value a request carried that the database cannot hold (PostgreSQL: a NUL byte in text, a number
        # out of its type's range): the request's fault, and its transaction is rolled back already.
        log.info("refused a value the database cannot store: %s", str(exc.orig).splitlines()[0])
        return JSONResponse({"detail": f"a value the database cannot store: {str(exc.orig).splitlines()[0]}"}, status_code=400)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if not is_transient(exc):
            raise exc
        # An outage (restart, failover, network): the client may try again; one log line, no traceback.
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, reason)
        detail = f"the database is unavailable ({exc.__class__.__name__}: {reason}); try again shortly"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})

    # review before models: /api/models/compare must not be taken for a version id.
    for module in (
        health, meta, security, jobs, exports, distribution, results, predict, images, review, review_queue, classes, corrections,
        models, runs, accept,
    ):  # fmt: skip
        app.include_router(module.router)
    mount_docs(app)
    mount_page(app)
    return app
