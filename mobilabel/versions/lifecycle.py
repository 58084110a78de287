"""Activating and deleting model versions with their files, as the CLI, the API and the workers do it
(no torch: the API and the CLI's light commands use it)."""

from __future__ import annotations

from ..config import Settings
from ..storage import Database
from ..storage import versions as stored
from ..storage.database import DbSession
from .files import remove_files


def activate(session: DbSession, ref: str) -> str:
    """Make the version ``ref`` names (an id, a unique prefix or ``active``) the active one; returns its id.

    Raises ``storage.versions.UnknownVersionError`` for a ref that names none."""
    version_id = stored.resolve_version(session, ref)
    stored.activate_version(session, version_id)
    return version_id


def delete(db: Database, settings: Settings, version_id: str) -> stored.VersionUse:
    """Delete a version that is not active (its checkpoint, results and job memberships; ``storage.versions.
    delete_version``), then its files on this machine, once the deletion is committed.

    Raises ``ActiveVersionError`` for the active version or one a running job uses, ``UnknownVersionError``
    for one that does not exist or is deleted already."""
    with db.transaction() as session:
        use = stored.delete_version(session, version_id)
    remove_files(settings, version_id)
    return use
