"""Login sessions of the web page, and the throttle on token guesses.

A session id is 32 random bytes (``secrets``), made at each login and forgotten at logout or
after ``MOBILABEL_SESSION_TTL_S``: the cookie says nothing about the token, and a stolen cookie
dies with its session. Both live in this process's memory: `mobilabel serve` runs one process
(uvicorn without workers), and a restart ends every session, which only means logging in again.

The throttle counts wrong tokens per client address: after ``FAILURES`` within ``WINDOW_S``
seconds the address is refused (429, ``Retry-After``) for ``FIRST_BLOCK_S`` seconds, doubled at
each further block up to ``MAX_BLOCK_S``; a right token clears its record.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

FAILURES = 5
WINDOW_S = 60.0
FIRST_BLOCK_S = 30.0
MAX_BLOCK_S = 300.0
# Addresses remembered at most: past it the least recently failing is forgotten, so a flood of
# addresses costs bounded memory.
_MAX_ADDRESSES = 10_000
_MAX_SESSIONS = 10_000

Clock = Callable[[], float]


class Sessions:
    """Live session ids and when each expires; safe to share between threads."""

    def __init__(self, ttl_s: float, clock: Clock = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, previous: str = "") -> str:
        """A new session id (``previous``, the caller's old one, ends: ids rotate at each login)."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry.pop(previous, None)
            self._expiry[session_id] = self.clock() + self.ttl_s
            while len(self._expiry) > _MAX_SESSIONS:
                self._expiry.popitem(last=False)  # the oldest login goes first
        return session_id

    def valid(self, session_id: str) -> bool:
        """Whether ``session_id`` is a live session (an expired one is forgotten here)."""
        if not session_id:
            return False
        with self._lock:
            expiry = self._expiry.get(session_id)
            if expiry is None:
                return False
            if expiry <= self.clock():
                del self._expiry[session_id]
                return False
            return True

    def close(self, session_id: str) -> None:
        """End a session (logout); unknown ids are ignored."""
        with self._lock:
            self._expiry.pop(session_id, None)


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    block_s: float = 0.0  # the last block's length; the next one is twice it


class Throttle:
    """Wrong tokens per client address, and which addresses are refused until when."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds ``address`` must wait before its next try (rounded up), or None when it may try now."""
        with self._lock:
            record = self._records.get(address)
            left = record.blocked_until - self.clock() if record else 0.0
        return math.ceil(left) if left > 0 else None

    def failed(self, address: str) -> None:
        """Count a wrong token from ``address``; the ``FAILURES``-th within ``WINDOW_S`` blocks it."""
        now = self.clock()
        with self._lock:
            record = self._records.pop(address, None) or _Record()
            self._records[address] = record  # most recent last
            while len(self._records) > _MAX_ADDRESSES:
                self._records.popitem(last=False)
            record.failures.append(now)
            while record.failures and record.failures[0] <= now - WINDOW_S:
                record.failures.popleft()
            if len(record.failures) >= FAILURES:
                record.block_s = min(MAX_BLOCK_S, record.block_s * 2 or FIRST_BLOCK_S)
                record.blocked_until = now + record.block_s
                record.failures.clear()

    def succeeded(self, address: str) -> None:
        """A right token from ``address``: its count and doubling start again."""
        with self._lock:
            self._records.pop(address, None)
