"""FastAPI dependencies: each route asks for what it uses (settings, a database session, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import annotated_types
from fastapi import Depends, HTTPException, Request
from pydantic.config import JsonDict

from ..config import Settings
from ..confinement import Kind, PathRefused, check_pattern, confine
from ..storage import Database
from ..storage.database import DbSession
from ..storage.versions import UnknownVersionError, resolve_version


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[DbSession]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    with db.transaction() as session:
        yield session


def version_named(session: DbSession, ref: str) -> str:
    """The id ``ref`` names (an id, a unique prefix, or ``active``), as ``results?version=`` resolves it;
    404 with resolve_version's message (what exists, what is ambiguous) for any other."""
    try:
        return resolve_version(session, ref)
    except UnknownVersionError as exc:
        raise HTTPException(404, str(exc)) from exc


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the transaction commits when the route returns, before the answer is sent, so a client
# that reads after a 2xx sees what it wrote, even while the route's background tasks (a quick refresh) run.
SessionDep = Annotated[DbSession, Depends(get_session, scope="function")]


# Marks a parameter or body field that names a path, folder or URI on the server in the OpenAPI
# description: each is confined (``confined``), and tests walk every marked one with hostile paths.
PATH_MARK: JsonDict = {"x-mobilabel-path": True}
# A pattern or prefix over paths (a results filter, Label Studio's document root): checked
# (``check_pattern``), never opened, so not held to the roots.
PATTERN_MARK: JsonDict = {**PATH_MARK, "x-mobilabel-path-kind": "pattern"}


def confined(settings: Settings, name: str, kind: Kind = "file") -> Path:
    """``confinement.confine`` for a route: the real path, or the HTTPException whose status says why."""
    try:
        return confine(name, settings.allowed_roots, kind)
    except PathRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None


def checked_pattern(pattern: str) -> str:
    """``confinement.check_pattern`` for a route: the pattern, or the HTTPException whose status says why."""
    try:
        return check_pattern(pattern)
    except PathRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None


# A row id as the databases store it (a signed 64-bit integer): larger ones are refused with 422, not sent to
# the database, which would overflow (SQLite: OverflowError; PostgreSQL: out of range).
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, annotated_types.Interval(ge=0, le=MAX_ROW_ID)]
