"""/api/predict: upload images, get label, confidence, top-k and model version; nothing is stored.

The model loads on the first request (torch is not imported before), follows the active
version as `mobilabel label` does, and concurrent requests share batches (``batching``).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ...config import Settings
from ...errors import MobilabelError
from ...imaging import is_image_name
from ...storage import Database
from ..services.heap import freeze_long_lived
from .results import Ranked

if TYPE_CHECKING:
    from ..services.batching import Batcher, BatchObserver

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["predict"])
PREDICT_PATH = "/api/predict"
_COPY_CHUNK = 1024 * 1024


class PredictionOut(BaseModel):
    filename: str
    label: str | None
    confidence: float | None
    top_k: list[Ranked]
    error: str | None


class PredictOut(BaseModel):
    model_version_id: str
    predictions: list[PredictionOut]


class Predictor:
    """The labeller and batcher behind /api/predict, made on first use."""

    def __init__(self, db: Database, settings: Settings, on_batch: BatchObserver | None = None) -> None:
        self._db = db
        self._settings = settings
        self._on_batch = on_batch
        self._batcher: Batcher | None = None
        self._lock = threading.Lock()
        # One folder for the server's uploads, each a file of its own: no folder made and removed per request.
        self.uploads = Path(tempfile.mkdtemp(prefix="mobilabel-upload-"))

    def batcher(self) -> Batcher:
        with self._lock:
            if self._batcher is None:
                self._batcher = self._build()
            return self._batcher

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        shutil.rmtree(self.uploads, ignore_errors=True)

    def _build(self) -> Batcher:
        from ...models.checkpoint import Checkpoint
        from ...models.classifier import Classifier
        from ...pipeline.active_model import ActiveModel
        from ...pipeline.build import build_labeller, load_classifier
        from ..services.batching import Batcher

        def factory(model: str | Checkpoint) -> Classifier:
            return load_classifier(self._settings, self._db, model)

        # Uploads are this server's own temporary files: the allowed roots confine stored paths, not them.
        settings = self._settings.model_copy(update={"allowed_roots": ()})
        labeller = build_labeller(settings, ActiveModel(self._db, settings, factory))
        labeller.classifier  # load the model now, not inside the first batch's wait  # noqa: B018
        freeze_long_lived()  # torch and the model: 300,000 more objects a full collection would walk
        return Batcher(labeller, settings.predict_max_batch, settings.predict_max_wait_ms / 1000, self._on_batch)


@router.post(
    "/predict",
    response_model=PredictOut,
    responses={
        413: {"description": "upload over MOBILABEL_MAX_UPLOAD_BYTES"},
        503: {"description": "no model can be loaded"},
        415: {"description": "no upload is an image"},
        422: {"description": "no upload could be read (corrupt, over MOBILABEL_MAX_IMAGE_PIXELS, ...)"},
    },
)
async def predict(
    request: Request,
    files: Annotated[list[UploadFile], File(description="one or more images")],
    top_k: Annotated[int | None, Query(ge=1, description="ranked labels per image (at most MOBILABEL_TOP_K)")] = None,
) -> JSONResponse:
    """Label uploaded images. One odd file gets its reason in ``error`` and the others their labels;
    if none can be labelled the answer is 415 (not an image) or 422 (unreadable), with the reason."""
    predictor: Predictor = request.app.state.predictor
    paths: list[Path] = []
    try:
        for upload in files:
            paths.append(await _save(upload, predictor.uploads, _suffix(upload.filename)))
        try:
            batcher = await asyncio.to_thread(predictor.batcher)
        except MobilabelError as exc:  # no weights, a checkpoint that will not load: the server is not ready
            raise HTTPException(503, str(exc)) from exc
        version_id, records = await asyncio.wrap_future(batcher.submit(paths))
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
    predictions = [
        PredictionOut(
            filename=upload.filename or "",
            label=record.label,
            confidence=record.confidence,
            top_k=[Ranked(**r) for r in (record.top_k or [])[:top_k]],
            error=record.error,
        )
        for upload, record in zip(files, records, strict=True)
    ]
    body = PredictOut(model_version_id=version_id, predictions=predictions).model_dump()
    if all(p.error is not None for p in predictions):
        first = predictions[0].error or ""
        status = 415 if first.startswith("not an image") else 422
        raise HTTPException(status, f"{predictions[0].filename}: {first}")
    return JSONResponse(body)


async def _save(upload: UploadFile, folder: Path, suffix: str) -> Path:
    """The upload copied to a new file of its own in ``folder`` (a name no other request gets)."""
    descriptor, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    with open(descriptor, "wb") as out:
        while chunk := await upload.read(_COPY_CHUNK):
            out.write(chunk)
    return Path(name)


def _suffix(filename: str | None) -> str:
    # Pillow reads by content; the suffix only keeps the upload's own extension for messages and logs.
    return Path(filename).suffix.lower() if filename and is_image_name(filename) else ".upload"
