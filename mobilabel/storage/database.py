"""Connecting to the database, and making sure its schema is current."""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .. import __version__
from ..config import load_settings
from ..errors import MobilabelError
from ..logs import mask_secrets
from .deadline import watch_statements

log = logging.getLogger(__name__)

_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|None)', re.MULTILINE)


@functools.cache
def head_revision() -> str:
    """The newest migration: the one no other script names as its ``down_revision``, read from the scripts'
    ``revision = "..."`` lines without Alembic (tests/unit/storage/test_migrations.py checks it against Alembic's
    reading). A database at it opens without importing Alembic, 0.2-0.3 s of CPU that a one-photo `predict`
    spent on every run (bench/predict_start.py); reading the ~20 small scripts costs about a millisecond.

    Raises:
        RuntimeError: the scripts do not form one chain with one head (a merge left two heads)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in _VERSIONS.glob("*.py"):
        for kind, value in _REVISION_LINE.findall(script.read_text()):
            (revisions if kind == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}): chain them")
    return heads.pop()


# What api/ and cli/ hold without importing SQLAlchemy (tests/unit/test_structure.py): a session, opaque,
# passed back to storage's functions; any error of the database layer; a value the database cannot hold
# (PostgreSQL: a NUL byte in text, a number out of its type's range).
DbSession = Session
SQLError = SQLAlchemyError
UnstorableValueError = DataError


class DatabaseError(MobilabelError):
    """The database cannot be used as it is; the message says what to do."""


class DatabaseLockedError(DatabaseError):
    """Another process held the SQLite file's write lock for longer than we wait (MOBILABEL_DB_LOCK_TIMEOUT_S)."""


def normalise_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form users know, and use psycopg 3 for it."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


class Database:
    def __init__(self, url: str, lock_timeout_s: float | None = None, patience_s: float | None = None) -> None:
        """``lock_timeout_s``: how long a SQLite write waits for another process's write lock
        before ``DatabaseLockedError`` (default: MOBILABEL_DB_LOCK_TIMEOUT_S). ``patience_s``: how long a
        server may stay silent (default: MOBILABEL_DB_PATIENCE_S); its timeouts derive from it (``server_timeouts``)."""
        self.url = normalise_url(url)
        if lock_timeout_s is None or patience_s is None:
            settings = load_settings()
            lock_timeout_s = settings.db_lock_timeout_s if lock_timeout_s is None else lock_timeout_s
            patience_s = settings.db_patience_s if patience_s is None else patience_s
        self.lock_timeout_s = lock_timeout_s
        self.patience_s = patience_s
        self.engine: Engine = _create_engine(self.url, self.lock_timeout_s, self.patience_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_embedded(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error.

        Raises DatabaseLockedError when another process kept the SQLite file's write lock too long.
        """
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            locked = self.locked_error(exc)
            if locked is None:
                raise
            raise locked from exc

    def locked_error(self, exc: OperationalError) -> DatabaseLockedError | None:
        """The one-line error for SQLite's "database is locked", or None for any other error."""
        if not self.is_embedded or "database is locked" not in str(exc.orig):
            return None
        return DatabaseLockedError(
            f"the database {self.engine.url.database} is locked: another process holds its write lock "
            f"(waited {self.lock_timeout_s:g} s, MOBILABEL_DB_LOCK_TIMEOUT_S); nothing was written by this step"
        )

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({mask_secrets(self.url)})"


def rows_changed(result: object) -> int:
    """The rows an UPDATE or DELETE changed (``Session.execute`` types its result too loosely to say)."""
    return cast(CursorResult[Any], result).rowcount


@dataclass(frozen=True)
class ServerTimeouts:
    """What a database server may cost in silence, all from MOBILABEL_DB_PATIENCE_S (0: wait for ever)."""

    connect_s: int  # each connection attempt (libpq's connect_timeout; its minimum is 2)
    keepalive_idle_s: int  # TCP keepalives: first probe after this long idle, then every interval, 3 probes
    keepalive_interval_s: int
    statement_s: float  # the server cancels a statement past this; the client drops it a connect timeout later

    def connect_args(self) -> dict[str, Any]:
        """psycopg's connection parameters (libpq's names)."""
        if not self.statement_s:
            return {"keepalives": 1}
        return {
            "connect_timeout": self.connect_s,
            "keepalives": 1,
            "keepalives_idle": self.keepalive_idle_s,
            "keepalives_interval": self.keepalive_interval_s,
            "keepalives_count": 3,
            # Data sent but not acknowledged for this long: the connection is dead (Linux).
            "tcp_user_timeout": int(self.statement_s * 1000),
            "options": f"-c statement_timeout={int(self.statement_s * 1000)}",
        }


def server_timeouts(patience_s: float) -> ServerTimeouts:
    """Each timeout a share of the patience, so that one dead host costs at most about the patience, and the
    retries (``retry.with_db_retry``) get several connection attempts within it."""
    return ServerTimeouts(
        connect_s=max(2, min(30, round(patience_s / 4))),
        keepalive_idle_s=max(1, round(patience_s / 8)),
        keepalive_interval_s=max(1, round(patience_s / 16)),
        statement_s=patience_s,
    )


def _create_engine(url: str, lock_timeout_s: float, patience_s: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        timeouts = server_timeouts(patience_s)
        if parsed.get_backend_name() != "postgresql":
            return create_engine(url, pool_pre_ping=True)
        if not timeouts.statement_s:
            return create_engine(url, pool_pre_ping=True, connect_args=timeouts.connect_args())
        engine = create_engine(url, connect_args=timeouts.connect_args())  # watch_statements checks each checkout itself
        watch_statements(engine, timeouts.statement_s + timeouts.connect_s)
        return engine
    if parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the folder of the SQLite file {parsed.database}: {exc.strerror or exc}") from exc
    engine = create_engine(url, connect_args={"timeout": lock_timeout_s})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # WAL lets readers run beside the one writer; the busy timeout makes a
        # second writer wait rather than fail at once.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_s * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _back_up_sqlite(database: Database, current: str, head: str | None) -> Path | None:
    """Copy an embedded SQLite file aside before migrating it, as ``NAME.before-HEAD.bak`` beside it
    (SQLite's online backup: consistent even with a WAL); returns the copy (None for a server database).
    An earlier copy for the same migration is replaced."""
    path = database.engine.url.database
    if not database.is_embedded or not path or path == ":memory:":
        return None
    backup = Path(path).with_name(f"{Path(path).name}.before-{head}.bak")
    source = sqlite3.connect(path)
    try:
        target = sqlite3.connect(backup)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    log.warning("migrating %s from %s to %s; a copy of it as it was: %s", path, current, head, backup)
    return backup


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at, as Alembic records it (its ``alembic_version`` table), read with one
    query rather than through Alembic; None for a database never migrated.

    Raises DatabaseError when the table holds several revisions (Alembic refuses such a database too), and
    SQLAlchemy's OperationalError when the database cannot be reached.
    """
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) > 1:
        raise DatabaseError(
            f"the database {mask_secrets(str(engine.url))} records several migrations "
            f"at once ({', '.join(sorted(revisions))}) in its alembic_version table, where mobilabel keeps one; nothing was changed"
        )
    return revisions[0] if revisions else None


def open_database(
    url: str, auto_upgrade: bool | None = None, lock_timeout_s: float | None = None, patience_s: float | None = None
) -> Database:
    """Connect and check that the schema is at the latest migration; ``lock_timeout_s`` and ``patience_s`` as
    ``Database`` takes them (a caller holding the settings passes theirs, so they are not loaded again).

    The embedded SQLite default is upgraded on the spot, so a newcomer never needs
    a separate step (a copy of the file is kept beside it first); a server database is upgraded
    only by ``mobilabel db upgrade`` (one migration service, not every worker at once).

    Raises DatabaseError when it cannot connect, when the schema is behind and not upgraded here,
    or when a newer mobilabel wrote it (a migration this code does not have).
    """
    database = Database(url, lock_timeout_s, patience_s)
    try:
        current = schema_revision(database.engine)
    except OperationalError as exc:
        database.dispose()
        raise DatabaseError(f"cannot connect to the database {mask_secrets(database.url)}: {exc.orig}") from exc
    except DatabaseError:
        database.dispose()
        raise
    head = head_revision()
    if current == head:
        return database
    from . import migrations_runner  # Alembic: only a database not at the newest migration needs it

    if current is not None and not migrations_runner.is_known(current):
        database.dispose()
        raise DatabaseError(
            f"the database {mask_secrets(database.url)} is at migration {current}, written by a newer mobilabel than this one "
            f"({__version__}, migrations up to {head}): upgrade mobilabel to use it (nothing was changed)"
        )
    if not (auto_upgrade if auto_upgrade is not None else database.is_embedded):
        database.dispose()
        raise DatabaseError(
            f"the database {mask_secrets(database.url)} is at migration {current or 'none'}, not {head}: run `mobilabel db upgrade`"
        )
    try:
        if current is not None:
            _back_up_sqlite(database, current, head)
        migrations_runner.upgrade(database.engine)
    except OperationalError as exc:
        database.dispose()
        locked = database.locked_error(exc)
        if locked is None:
            raise
        raise locked from exc
    return database
