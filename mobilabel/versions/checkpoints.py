"""Model versions as checkpoints: register them, choose one, load one by id.

Checkpoints are stored in the database, so any worker on any machine can load a
version by its id; each machine keeps a copy on disk, checked by sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import torch

from ..config import Settings
from ..errors import MobilabelError
from ..files import write_atomically
from ..models import Checkpoint
from ..storage import Database
from ..storage import versions as stored
from .files import checkpoint_file

TORCHVISION_WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


class NoModelError(MobilabelError):
    """No model to label with; the message says how to get one."""


class CorruptVersionError(MobilabelError):
    """A stored checkpoint whose bytes no longer match the sha256 recorded when it was registered."""


def register_checkpoint(db: Database, checkpoint: Checkpoint, activate: bool = False) -> str:
    """Store ``checkpoint`` as a version (once: its id is its key; a deleted one comes back) and return the id."""
    with db.transaction() as session:
        known = stored.get_version(session, checkpoint.version_id)
        if known is None or known.deleted_at is not None:
            record = stored.VersionRecord(
                id=checkpoint.version_id,
                arch=checkpoint.arch,
                alpha=checkpoint.alpha,
                classes=checkpoint.classes,
                metrics=checkpoint.metrics,
                checkpoint=checkpoint.to_bytes(),
                source=checkpoint.source,
            )
            stored.register_version(session, record)
        if activate:
            stored.activate_version(session, checkpoint.version_id)
    return checkpoint.version_id


def find_pretrained(settings: Settings) -> Path | None:
    """ImageNet weights on this machine: ``MOBILABEL_PRETRAINED``, else torchvision's cache."""
    if settings.pretrained is not None:
        if not settings.pretrained.is_file():
            raise NoModelError(f"MOBILABEL_PRETRAINED points to {settings.pretrained}, which is not a file")
        return settings.pretrained
    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_WEIGHTS_FILE
    return cached if cached.is_file() else None


def load_version(db: Database, settings: Settings, version_id: str) -> Checkpoint:
    """A stored version, from this machine's cache when its sha256 still matches."""
    with db.transaction() as session:
        version = stored.get_version(session, version_id)
        if version is None:
            raise stored.UnknownVersionError(f"no model version {version_id!r} in the database")
        expected_sha = version.sha256
    cached = checkpoint_file(settings, version_id)
    if cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == expected_sha:
            return Checkpoint.from_bytes(data, source=f"version {version_id}")
    with db.transaction() as session:
        data, sha = stored.checkpoint_bytes(session, version_id)
    if hashlib.sha256(data).hexdigest() != sha:
        raise CorruptVersionError(
            f"model version {version_id}: the checkpoint stored in the database does not match its sha256; "
            "activate or register another version (`mobilabel models`)"
        )
    write_atomically(cached, data)
    return Checkpoint.from_bytes(data, source=f"version {version_id}")


def active_version_id(db: Database) -> str | None:
    with db.transaction() as session:
        return stored.active_version_id(session)


def find_imagenet(db: Database | None, settings: Settings) -> Checkpoint | None:
    """The ImageNet weights, wherever they are: ``MOBILABEL_PRETRAINED``, else torchvision's cache, else
    ImageNet weights an earlier run registered in the database (so they need to be pointed at only once;
    ``db`` None: no database yet, look on this machine only).

    The one place label, predict, train, doctor and the workers find them. None if there are none;
    raises ``NoModelError`` if ``MOBILABEL_PRETRAINED`` names no file.
    """
    pretrained = find_pretrained(settings)
    if pretrained is not None:
        return Checkpoint.load(pretrained)
    if db is None:
        return None
    with db.transaction() as session:
        registered = stored.newest_imagenet_version_id(session)
    if registered is None:
        return None
    # Its stored source names the file it was first read from, which may be gone: say where it is now.
    return dataclasses.replace(load_version(db, settings, registered), source=f"model version {registered} in the database")


def resolve_checkpoint(db: Database, settings: Settings, model: str | None = None) -> Checkpoint:
    """The checkpoint to label with, registered as a version so results can name it.

    ``model`` is a checkpoint file or a version (id, unique prefix or ``active``); without it, the
    active version, else the ImageNet weights (``find_imagenet``).
    """
    if model:
        if Path(model).is_file():
            checkpoint = Checkpoint.load(Path(model))
            register_checkpoint(db, checkpoint)
            return checkpoint
        with db.transaction() as session:
            try:
                version_id = stored.resolve_version(session, model)  # an id, a unique prefix, or 'active'
            except stored.UnknownVersionError as exc:
                raise NoModelError(f"--model {model}: not a checkpoint file, and {exc}") from exc
        return load_version(db, settings, version_id)
    active = active_version_id(db)
    if active is not None:
        return load_version(db, settings, active)
    imagenet = find_imagenet(db, settings)
    if imagenet is None:
        raise NoModelError(
            "no model weights found: set MOBILABEL_PRETRAINED to a torchvision mobilenet_v2 ImageNet file "
            f"(e.g. {TORCHVISION_WEIGHTS_FILE} from download.pytorch.org/models), "
            "or pass --model CHECKPOINT, or train one with `mobilabel train`"
        )
    register_checkpoint(db, imagenet)
    return imagenet
