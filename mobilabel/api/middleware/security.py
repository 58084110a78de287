"""Who may call the API, and from where.

With ``MOBILABEL_API_TOKEN`` set, every request needs ``Authorization: Bearer TOKEN`` (compared
in constant time), or the cookie of a live session that ``POST /api/session`` opens for that token
(for the web page; ``sessions``). Wrong tokens are throttled per client address (``sessions.Throttle``:
429 with ``Retry-After``). State-changing requests (anything but GET, HEAD, OPTIONS)
that do not carry the bearer header, i.e. cookie-authenticated or token-less loopback
ones, are refused when the browser says they come from another site (``Sec-Fetch-Site``,
``Origin``): a page elsewhere cannot make a visitor's browser change anything here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from ..page import is_page_path
from .sessions import Sessions, Throttle

SESSION_COOKIE = "mobilabel_session"
SESSION_PATH = "/api/session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})

router = APIRouter(tags=["session"])


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Guard:
    token: str
    cors_origins: tuple[str, ...] = ()
    sessions: Sessions = field(default_factory=lambda: Sessions(3600.0))
    throttle: Throttle = field(default_factory=Throttle)

    def bearer_ok(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(credentials.strip())

    def token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.token.encode())

    def throttled(self, address: str) -> Refusal | None:
        """429 while ``address`` is blocked for guessing tokens."""
        wait = self.throttle.retry_after(address)
        if wait is None:
            return None
        return Refusal(429, f"too many wrong tokens from {address}: try again in {wait} s", {"Retry-After": str(wait)})

    def check_token(self, address: str, right: bool) -> Refusal | None:
        """Count a token tried from ``address``: None when it is right, else 401 (or 429 once it is blocked)."""
        if right:
            self.throttle.succeeded(address)
            return None
        self.throttle.failed(address)
        return self.throttled(address) or Refusal(401, "wrong or missing token", {"WWW-Authenticate": "Bearer"})

    def refusal(self, method: str, path: str, headers: dict[str, str], host_origin: str, address: str = "") -> Refusal | None:
        """Why this request must be refused, or None."""
        if method in _SAFE_METHODS and is_page_path(path):
            return None  # the page's own files hold no data; it asks the API with credentials (a login form gets the cookie)
        authorization = headers.get("authorization", "")
        bearer = False
        # Only a bearer header is a token tried (a proxy's Basic credentials are not): the page's cookie still counts then.
        if self.token and authorization.partition(" ")[0].lower() == "bearer":
            refused = self.throttled(address) or self.check_token(address, self.bearer_ok(authorization))
            if refused is not None:
                return refused
            bearer = True
        # Logging in is the one request that may come without credentials: its endpoint checks the
        # token it carries; logging out only ends the session its cookie names.
        session_call = path == SESSION_PATH and method in ("POST", "DELETE")
        if self.token and not bearer and not session_call and not self.sessions.valid(_cookie(headers, SESSION_COOKIE)):
            return Refusal(
                401,
                "this server needs a token: send 'Authorization: Bearer <MOBILABEL_API_TOKEN>'",
                {"WWW-Authenticate": "Bearer"},
            )
        if method in _SAFE_METHODS or bearer:
            return None
        fetch_site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if origin is not None and origin in self.cors_origins:
            return None  # a site the operator allowed (MOBILABEL_CORS_ORIGINS)
        if (fetch_site is not None and fetch_site not in _SAME_SITE_FETCHES) or (origin is not None and origin != host_origin):
            return Refusal(403, "cross-site request refused: state-changing requests from another site need the bearer token")
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
        refused = self.guard.refusal(scope["method"], scope["path"], headers, host_origin, client_address(scope))
        if refused is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"detail": refused.reason}, refused.status, headers=refused.headers)(scope, receive, send)


def client_address(scope: Scope) -> str:
    """The peer's IP address (what the throttle counts by; behind a reverse proxy, the proxy's)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Login(BaseModel):
    token: str


@router.post(
    SESSION_PATH,
    status_code=204,
    responses={401: {"description": "wrong or missing token"}, 429: {"description": "too many wrong tokens"}},
)
def open_session(request: Request, login: Login | None = None) -> Response:
    """Exchange the token (bearer header, or ``{"token": ...}`` from a login form) for an HttpOnly,
    SameSite=Strict cookie naming a new session, for the web page; the caller's previous session ends.
    Without a token configured, nothing to do."""
    guard: Guard = request.app.state.guard
    response = Response(status_code=204)
    if guard.token:
        if login is not None:  # a bearer header was checked (and counted) by the middleware already
            address = client_address(request.scope)
            refused = guard.throttled(address) or guard.check_token(address, guard.token_ok(login.token))
            if refused is not None:
                return JSONResponse({"detail": refused.reason}, refused.status, headers=refused.headers)
        elif not guard.bearer_ok(request.headers.get("authorization", "")):
            return JSONResponse({"detail": "wrong or missing token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        session_id = guard.sessions.open(previous=request.cookies.get(SESSION_COOKIE, ""))
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=int(guard.sessions.ttl_s),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.delete(SESSION_PATH, status_code=204)
def close_session(request: Request) -> Response:
    """End the session the cookie names (log out): the cookie no longer opens anything, even if kept."""
    guard: Guard = request.app.state.guard
    guard.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


def _cookie(headers: dict[str, str], name: str) -> str:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""
