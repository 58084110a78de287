"""Headers every answer carries, so a browser neither frames, sniffs nor leaks what it got, and
runs no script but the page's own files; and the Host check that keeps DNS rebinding out."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The page (/ui/) and the API alike: only this server's own files, never framed. An answer that
# sets its own policy keeps it (/docs, whose inline start-up script is allowed by its hash).
CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# What a browser on this machine calls the loopback server, any port.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def trusted_hosts(allowed_hosts: Sequence[str], token: str) -> list[str] | None:
    """The Host names Starlette's TrustedHostMiddleware is to let through (it answers any other with 400,
    ignores the port and keeps IPv6 in brackets): the loopback names and ``allowed_hosts``
    (MOBILABEL_ALLOWED_HOSTS). None, no check, with a token and no hosts listed: a rebinding page lacks
    the token, and a server bound to a public address must answer by its IP or name."""
    if token and not allowed_hosts:
        return None
    return [*LOOPBACK_HOSTS, *allowed_hosts]
