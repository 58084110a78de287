"""FastAPI dependencies: each route asks for what it uses (settings, a database session, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from ..config import Settings
from ..storage import Database
from ..storage.versions import UnknownVersionError, resolve_version


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    with db.transaction() as session:
        yield session


def version_named(session: Session, ref: str) -> str:
    """The id ``ref`` names (an id, a unique prefix, or ``active``), as ``results?version=`` resolves it;
    404 with resolve_version's message (what exists, what is ambiguous) for any other."""
    try:
        return resolve_version(session, ref)
    except UnknownVersionError as exc:
        raise HTTPException(404, str(exc)) from exc


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]
