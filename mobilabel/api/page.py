"""The review web page: static HTML, ES modules (static/app.js, static/views/, static/lib/) and CSS
shipped in the package (no CDN, no build step; docs/frontend.md), served under /ui; ``/`` leads there. The page holds no data: everything it shows
comes from the API with the caller's credentials, so its files are served without them."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

PAGE_PREFIX = "/ui"
STATIC_DIR = Path(__file__).with_name("static")


def is_page_path(path: str) -> bool:
    """True for the page's own files (and ``/``), which carry no data."""
    return path == "/" or path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")


def mount_page(app: FastAPI) -> None:
    """Serve the page's files under /ui (index.html for /ui/) and redirect ``/`` there."""

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(PAGE_PREFIX + "/")

    app.mount(PAGE_PREFIX, StaticFiles(directory=STATIC_DIR, html=True), name="page")
