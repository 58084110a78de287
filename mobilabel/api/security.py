"""Who may call the API, and from where.

With ``MOBILABEL_API_TOKEN`` set, every request needs ``Authorization: Bearer TOKEN``, or the
session cookie that ``POST /api/session`` hands out for that header (for the web page);
both compared in constant time. State-changing requests (anything but GET, HEAD, OPTIONS)
that do not carry the bearer header, i.e. cookie-authenticated or token-less loopback
ones, are refused when the browser says they come from another site (``Sec-Fetch-Site``,
``Origin``): a page elsewhere cannot make a visitor's browser change anything here.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from .page import is_page_path

SESSION_COOKIE = "mobilabel_session"
SESSION_PATH = "/api/session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})

router = APIRouter(tags=["session"])


@dataclass(frozen=True)
class Guard:
    token: str
    cors_origins: tuple[str, ...] = ()

    @property
    def session_value(self) -> str:
        # Derived from the token, so changing the token ends every session; never the token itself.
        return hmac.new(self.token.encode(), b"mobilabel session v1", hashlib.sha256).hexdigest()

    def bearer_ok(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(credentials.strip())

    def token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.token.encode())

    def refusal(self, method: str, path: str, headers: dict[str, str], host_origin: str) -> tuple[int, str] | None:
        """(status, reason) if this request must be refused, else None."""
        bearer = bool(self.token) and self.bearer_ok(headers.get("authorization", ""))
        # Logging in is the one request that may come without credentials: its endpoint checks the token it carries.
        logging_in = path == SESSION_PATH and method == "POST"
        if method in _SAFE_METHODS and is_page_path(path):
            return None  # the page's own files hold no data; it asks the API with credentials (a login form gets the cookie)
        if self.token and not bearer and not logging_in and not hmac.compare_digest(_cookie(headers, SESSION_COOKIE).encode(), self.session_value.encode()):
            return 401, "this server needs a token: send 'Authorization: Bearer <MOBILABEL_API_TOKEN>'"
        if method in _SAFE_METHODS or bearer:
            return None
        fetch_site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if origin is not None and origin in self.cors_origins:
            return None  # a site the operator allowed (MOBILABEL_CORS_ORIGINS)
        if (fetch_site is not None and fetch_site not in _SAME_SITE_FETCHES) or (origin is not None and origin != host_origin):
            return 403, "cross-site request refused: state-changing requests from another site need the bearer token"
        return None


class SecurityMiddleware:
    """Applies a ``Guard`` to every HTTP request before any route sees it."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host_origin = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        refused = self.guard.refusal(scope["method"], scope["path"], headers, host_origin)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        response = JSONResponse({"detail": reason}, status, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
        await response(scope, receive, send)


class Login(BaseModel):
    token: str


@router.post(SESSION_PATH, status_code=204, responses={401: {"description": "wrong or missing token"}})
def open_session(request: Request, login: Login | None = None) -> Response:
    """Exchange the token (bearer header, or ``{"token": ...}`` from a login form) for an HttpOnly,
    SameSite=Strict session cookie, for the web page. Without a token configured, nothing to do."""
    guard = Guard(request.app.state.settings.api_token)
    response = Response(status_code=204)
    if guard.token:
        if not (guard.bearer_ok(request.headers.get("authorization", "")) or (login is not None and guard.token_ok(login.token))):
            return JSONResponse({"detail": "wrong or missing token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        response.set_cookie(SESSION_COOKIE, guard.session_value, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.delete(SESSION_PATH, status_code=204)
def close_session() -> Response:
    """Forget the session cookie (log out)."""
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


def _cookie(headers: dict[str, str], name: str) -> str:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""
