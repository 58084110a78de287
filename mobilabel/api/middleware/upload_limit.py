"""Refusing request bodies over MOBILABEL_MAX_UPLOAD_BYTES with 413, before they are parsed or stored:
by Content-Length when the client sends one, else by counting the bytes as they arrive."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(Exception):
    pass


class UploadLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, paths: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        too_large = started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                too_large = True
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            # Once over the limit, whatever the app answers (FastAPI turns a body error into 400) gives way to 413.
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = f"upload over {self.max_bytes:,} bytes (MOBILABEL_MAX_UPLOAD_BYTES)"
        await JSONResponse({"detail": reason}, status_code=413)(scope, receive, send)
