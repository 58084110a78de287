"""The API's documentation page, /docs (Swagger UI), working offline.

FastAPI's own page loads its JS and CSS from a CDN; this one loads the copies that the
``fastapi-offline`` package ships (Swagger UI 5, which reads OpenAPI 3.1), served under
/docs/assets. Neither the page nor its assets are page paths (see ``page``), so with a token
configured they need it as /openapi.json does. There is no /redoc: ReDoc 2 fetches its logo
from its vendor's CDN whatever it is given.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = DOCS_PATH + "/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI) -> None:
    """Serve /docs and its assets; ``app`` must be made with ``docs_url=None, redoc_url=None``."""
    openapi_url = app.openapi_url or "/openapi.json"
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=None,  # the API has no OAuth2 login
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        # Swagger UI would otherwise send the description's URL to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    headers = {"Content-Security-Policy": docs_policy(bytes(page.body).decode())}

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page.body, headers=headers)

    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")


def docs_policy(html: str) -> str:
    """The Content-Security-Policy of the docs page ``html``: its own files, and its inline scripts by hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
