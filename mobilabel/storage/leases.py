"""Named leases: one holder at a time, for as long as it keeps renewing (the scheduler's, a folder's labelling).

A lease is taken by a conditional UPDATE (free, expired, or ours already) or, for a name never
leased, an INSERT that a concurrent one makes a no-op; so two processes racing never both hold it.
Expiry uses the clocks of the processes involved: hosts sharing a lease should keep time (NTP).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.orm import Session

from .database import rows_changed
from .tables import Lease, utcnow
from .upsert import upsert

# One lease per worker pool process, held while it lives: "HOST:PID serving", or "HOST:PID unable: REASON".
SERVING_LEASE_PREFIX = "worker:"


def take_lease(session: Session, name: str, holder: str, ttl: timedelta) -> str | None:
    """Take or renew the lease ``name`` for ``holder`` until now + ``ttl``.

    Returns None when ``holder`` holds it now, else the name of the holder that does.
    """
    now = utcnow()
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl, acquired_at=case((Lease.holder == holder, Lease.acquired_at), else_=now))
    )
    if rows_changed(renewed) == 1:
        return None
    upsert(
        session, Lease, [{"name": name, "holder": holder, "acquired_at": now, "expires_at": now + ttl}], keys=["name"], update=()
    )
    current = session.scalar(select(Lease.holder).where(Lease.name == name))
    return None if current == holder else current


def release_lease(session: Session, name: str, holder: str) -> None:
    """Give the lease up, if ``holder`` still holds it, so a waiting process need not wait for it to expire."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def live_holders(session: Session, prefix: str) -> list[str]:
    """The holders of the unexpired leases whose name starts with ``prefix``."""
    return list(
        session.scalars(select(Lease.holder).where(Lease.name.startswith(prefix, autoescape=True), Lease.expires_at >= utcnow()))
    )
