"""/api/results/{id}/image and /thumbnail: image bytes, only ever for a result id.

The path comes from the database, never from the request, and the file is opened only if
its real path (``..`` and symlinks resolved) lies under MOBILABEL_ALLOWED_ROOTS; anything
else is 404, with nothing opened. With no roots set, image endpoints answer 403.

An object's image (``s3://...``, under an allowed ``s3://`` entry) is streamed through this server
from the store, never a presigned URL: the page fetches only from its own origin
(``Content-Security-Policy: default-src 'self'``), and the store's credentials never leave the server.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from ... import object_store
from ...config import Settings
from ...confinement import PathRefused, confine, outside_roots
from ...imaging import ImageReadError, content_identity
from ...object_paths import ObjectPath, ObjectUriError, source_path
from ...storage.tables import Result
from ..deps import MAX_ROW_ID, SessionDep, SettingsDep
from ..services.thumbnails import THUMBNAIL_SIZES, make_thumbnail, thumbnail_path

router = APIRouter(prefix="/api/results", tags=["images"])

# A URL that names the result only: a day, then revalidated by ETag. One that also names the file's
# state (?v=FINGERPRINT, the result's content_id) never changes: a year.
_CACHE_CONTROL = "private, max-age=86400"
_CACHE_FOREVER = "private, max-age=31536000, immutable"
_RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "MOBILABEL_ALLOWED_ROOTS is not set"},
    404: {"description": "no such result, or its file is missing or outside the allowed roots"},
}


def open_image(path: Path, roots: Sequence[Path]) -> Path:
    """The real path of an image file that may be served; the one place image files are looked at from.

    Raises ``PathRefused`` (``confinement.confine``) when it is outside ``roots`` or not a regular file.
    """
    return confine(str(path), roots, "file")


def _servable(session: SessionDep, settings: Settings, result_id: str) -> tuple[int, Path]:
    if not settings.allowed_roots:
        raise HTTPException(403, "image endpoints are off: set MOBILABEL_ALLOWED_ROOTS to the folders images may be served from")
    # The id is all a client names: anything else, or one past what a database stores, is no result.
    if not (result_id.isascii() and result_id.isdigit()) or int(result_id) > MAX_ROW_ID:
        raise HTTPException(404, "no such result")
    row = session.get(Result, int(result_id))
    if row is None:
        raise HTTPException(404, "no such result")
    try:
        stored = source_path(row.image_path)
    except ObjectUriError:
        raise HTTPException(404, "no such result") from None
    if outside_roots(stored, settings.allowed_roots):
        raise HTTPException(404, "no such result")
    try:
        return row.id, open_image(stored, settings.allowed_roots)
    except PathRefused as exc:
        if exc.status == 503:
            raise HTTPException(503, str(exc)) from exc
        raise HTTPException(404, "the image file of this result is gone, or is not a regular file") from exc


@router.get("/{result_id}/image", response_class=FileResponse, responses=_RESPONSES)
def image(result_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The original file of a result, as stored (an object's streamed from its store)."""
    _, real = _servable(session, settings, result_id)
    media_type = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": _CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    if isinstance(real, ObjectPath):
        try:
            chunks, size = object_store.stream(real)
        except object_store.ObjectGoneError as exc:
            raise HTTPException(404, "the image file of this result is gone, or is not a regular file") from exc
        except object_store.ObjectStoreError as exc:
            raise HTTPException(503, f"the object store: {exc}") from exc
        return StreamingResponse(chunks, media_type=media_type, headers={**headers, "Content-Length": str(size)})
    return FileResponse(real, media_type=media_type, headers=headers)


@router.get("/{result_id}/thumbnail", response_class=FileResponse, responses=_RESPONSES)
def thumbnail(
    result_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[int, Query(description=f"longest side, one of {THUMBNAIL_SIZES}")] = 256,
    v: Annotated[str | None, Query(description="the result's content_id: with it, cached for a year")] = None,
) -> Response:
    """A JPEG thumbnail, upright, made once per file state and cached on disk."""
    if size not in THUMBNAIL_SIZES:
        raise HTTPException(422, f"size must be one of {', '.join(map(str, THUMBNAIL_SIZES))}")
    row_id, real = _servable(session, settings, result_id)
    try:
        fingerprint = content_identity(real)
    except (OSError, object_store.ObjectStoreError) as exc:
        raise HTTPException(404, "the image file of this result is gone, or is not a regular file") from exc
    etag = f'"{row_id}-{fingerprint.replace(":", "-")}-{size}"'
    cache = _CACHE_FOREVER if v == fingerprint else "no-cache" if v is not None else _CACHE_CONTROL
    headers = {"Cache-Control": cache, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    cached = thumbnail_path(settings.home / "thumbnails", row_id, fingerprint, size)
    if not cached.is_file():
        try:
            make_thumbnail(real, cached, size, settings.max_image_pixels)
        except ImageReadError as exc:
            raise HTTPException(422, str(exc)) from exc
    return FileResponse(cached, media_type="image/jpeg", headers=headers)
