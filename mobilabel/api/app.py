"""The app factory: one FastAPI app per settings, with its database, job runner and predictor."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse

from ..broker import BrokerError
from ..config import Settings
from ..errors import MobilabelError
from ..storage import Database, open_database
from ..storage.classes import ClassError
from ..storage.database import SQLError, UnstorableValueError
from ..storage.retry import is_transient
from .docs import mount_docs
from .middleware import security
from .middleware.headers import SecurityHeadersMiddleware, trusted_hosts
from .middleware.metrics import RequestMetrics
from .middleware.security import Guard, SecurityMiddleware
from .middleware.sessions import Sessions
from .middleware.upload_limit import UploadLimitMiddleware
from .page import mount_page
from .routes import (
    accept,
    classes,
    corrections,
    curation,
    distribution,
    exports,
    health,
    images,
    jobs,
    meta,
    model_versions,
    predict,
    results,
    review,
    review_queue,
    runs,
    suggestions,
)
from .services.export_runner import ExportRunner
from .services.heap import freeze_long_lived, thaw
from .services.job_runner import JobRunner

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

    @app.exception_handler(ClassError)
    async def class_refused(_: Request, exc: ClassError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=classes.refusal_status(exc))

    @app.exception_handler(BrokerError)
    async def broker_unreachable(_: Request, exc: BrokerError) -> JSONResponse:
        # Not the client's fault, and it may pass: 503, with the reason (the URL's password masked).
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(UnstorableValueError)
    async def unstorable_value(_: Request, exc: UnstorableValueError) -> JSONResponse:
        # A value a request carried that the database cannot hold (PostgreSQL: a NUL byte in text, a number
        # out of its type's range): the request's fault, and its transaction is rolled back already.
        log.info("refused a value the database cannot store: %s", str(exc.orig).splitlines()[0])
        return JSONResponse({"detail": f"a value the database cannot store: {str(exc.orig).splitlines()[0]}"}, status_code=400)

    @app.exception_handler(SQLError)
    async def database_error(request: Request, exc: SQLError) -> JSONResponse:
        if not is_transient(exc):
            raise exc
        # An outage (restart, failover, network): the client may try again; one log line, no traceback.
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, reason)
        detail = f"the database is unavailable ({exc.__class__.__name__}: {reason}); try again shortly"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})

    # review before models: /api/models/compare must not be taken for a version id.
    for module in (
        health, meta, security, jobs, exports, distribution, results, predict, images, review, review_queue, suggestions, classes,
        corrections, model_versions, runs, curation, accept,
    ):  # fmt: skip
        app.include_router(module.router)
    mount_docs(app)
    mount_page(app)
    return app
