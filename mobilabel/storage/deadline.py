"""A client-side deadline on each PostgreSQL statement: what bounds a host that died without closing its sockets.

The server's ``statement_timeout`` needs a server that answers, and TCP keepalives need nothing in
between to answer for it (a proxy, a NAT or a load balancer that still acknowledges does). So a
watchdog thread shuts down the socket of a statement still waiting past its deadline: the blocked
call fails at once with an OperationalError, the pool drops the connection, and the caller's retry
(``retry.with_db_retry``) takes over. Migrations run without it (``unbounded``): an index build may
rightly take long.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

log = logging.getLogger(__name__)
_unbounded = threading.local()


@contextmanager
def unbounded() -> Iterator[None]:
    """Statements this thread runs within the block have no client-side deadline."""
    _unbounded.active = True
    try:
        yield
    finally:
        _unbounded.active = False


_running: dict[int, tuple[float, int, float]] = {}  # id(DBAPI connection) -> (deadline, socket fd, limit)
_lock = threading.Lock()
_watchdog: threading.Thread | None = None
# A forked child (a worker's pool process) shares its parent's sockets: it must never cut the parent's.
os.register_at_fork(after_in_child=_running.clear)


def watch_statements(engine: Engine, limit_s: float) -> None:
    """Give each statement of ``engine`` (PostgreSQL, psycopg) ``limit_s`` seconds before its socket is shut down.

    Watched: statements, commits and rollbacks (until the connection is back in the pool), and the
    liveness check each connection gets when taken from the pool (this replaces SQLAlchemy's
    pre-ping, which no event covers).
    """

    def arm(raw: Any) -> None:
        if not getattr(_unbounded, "active", False):
            with _lock:
                _running[id(raw)] = (time.monotonic() + limit_s, raw.pgconn.socket, limit_s)

    def disarm(raw: Any) -> None:
        with _lock:
            _running.pop(id(raw), None)

    def checked_out(raw: Any, record: Any, proxy: Any) -> None:
        arm(raw)
        try:
            with raw.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:  # a pooled connection the server (or the network) dropped: take another
            raise DisconnectionError(f"stale connection: {exc}") from exc
        finally:
            disarm(raw)

    def on_connection(action: Callable[[Any], None]) -> Callable[..., None]:
        def listener(connection: Any, *_: Any) -> None:
            # An invalidated connection has no socket left to watch (and asking for it would try to reconnect).
            if not connection.invalidated and not connection.closed:
                action(connection.connection.dbapi_connection)

        return listener

    event.listen(engine, "before_cursor_execute", on_connection(arm))
    event.listen(engine, "after_cursor_execute", on_connection(disarm))
    for name in ("commit", "rollback"):
        event.listen(engine, name, on_connection(arm))

    def forget(raw: Any, *_: Any) -> None:
        if raw is not None:
            disarm(raw)

    event.listen(engine.pool, "checkout", checked_out)
    # However a connection ends, its entry goes: a closed socket's number is soon another socket's.
    for name in ("checkin", "invalidate", "soft_invalidate", "close", "close_detached"):
        event.listen(engine.pool, name, forget)
    _start_watchdog()


def _start_watchdog() -> None:
    global _watchdog
    with _lock:
        if _watchdog is None or not _watchdog.is_alive():  # one per process (a forked child starts its own)
            _watchdog = threading.Thread(target=_watch, name="statement-deadline", daemon=True)
            _watchdog.start()


def _watch() -> None:
    while True:
        time.sleep(0.25)  # a watchdog's period, not synchronisation
        now = time.monotonic()
        with _lock:
            overdue = [(key, fd, limit) for key, (deadline, fd, limit) in _running.items() if deadline < now]
            for key, _, _ in overdue:
                del _running[key]
        for _, fd, limit in overdue:
            _cut(fd, limit)


def _cut(fd: int, limit_s: float) -> None:
    log.warning("a database statement got no answer for %.0f s: dropping its connection (the server may be gone)", limit_s)
    try:
        # shutdown acts on the socket, not this descriptor: the call blocked on it returns at once.
        with socket.socket(fileno=os.dup(fd)) as dup:
            dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed meanwhile
