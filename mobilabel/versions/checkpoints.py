"""Model versions as checkpoints: register them, choose one, load one by id.

Checkpoints are stored in the database, so any worker on any machine can load a
version by its id; each machine keeps a copy on disk, checked by sha256. Beside it, a
version's ONNX file (``models.onnx_file``), which a CPU process labels with without torch:
written when a process with torch registers or first labels with the version.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import MobilabelError
from ..files import write_atomically
from ..models.devices import torch_installed
from ..storage import Database
from ..storage import versions as stored
from .files import checkpoint_file, onnx_file
from .weights_hash import weights_sha256

if TYPE_CHECKING:
    from ..models.checkpoint import Checkpoint

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
    import torch

    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_WEIGHTS_FILE
    return cached if cached.is_file() else None


def load_version(db: Database, settings: Settings, version_id: str) -> Checkpoint:
    """A stored version, from this machine's cache when its sha256 still matches."""
    from ..models.checkpoint import Checkpoint

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
    from ..models.checkpoint import Checkpoint

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
    from ..models.checkpoint import Checkpoint

    if model:
        if Path(model).is_file():
            checkpoint = Checkpoint.load(Path(model))
            _register_with_onnx(db, settings, checkpoint)
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
    _register_with_onnx(db, settings, imagenet)
    return imagenet


def _register_with_onnx(db: Database, settings: Settings, checkpoint: Checkpoint) -> None:
    """Register ``checkpoint`` and write its ONNX file, unless this machine has it: the slim CPU workers
    sharing this model cache (MOBILABEL_HOME) label from it."""
    register_checkpoint(db, checkpoint)
    if not onnx_file(settings, checkpoint.version_id).is_file():
        save_onnx_file(settings, checkpoint)


def resolve_model(db: Database, settings: Settings, model: str | None = None) -> str | Checkpoint:
    """What ``resolve_checkpoint`` would label with: the id of a registered version where the database tells
    it without a checkpoint being loaded (an id, a unique prefix or ``active``; without ``model`` the active
    version, else ImageNet weights registered before), else the checkpoint itself, loaded and registered.

    With an id, a stored ONNX file labels without torch (``pipeline.build.load_classifier``).
    """
    version_id = _registered_version(db, settings, model)
    if version_id is not None:
        return version_id
    if not torch_installed():
        raise NoModelError(
            f"{'--model ' + model if model else 'the ImageNet weights'}: not a registered model version, and this install has "
            "no torch to read a checkpoint file: register it with the full install (`mobilabel predict PHOTO --model ...`), "
            "or name a registered version (`mobilabel models`)"
        )
    return resolve_checkpoint(db, settings, model)


def _registered_version(db: Database, settings: Settings, model: str | None) -> str | None:
    """``resolve_model``'s registered version, or None where only loading a checkpoint can tell (a checkpoint
    file, ImageNet weights not registered yet, or torchvision's cache, which only torch knows where to find)."""
    with db.transaction() as session:
        if model:
            if Path(model).is_file():
                return None
            try:
                return stored.resolve_version(session, model)
            except stored.UnknownVersionError:
                return None  # resolve_checkpoint says what is wrong
        version_id = stored.active_version_id(session)
        if version_id is not None:
            return version_id
        if settings.pretrained is not None:
            if not settings.pretrained.is_file():
                return None
            # A torchvision ImageNet file registers under its content hash (``Checkpoint``): the same id here.
            version_id = f"imagenet-{weights_sha256(settings, settings.pretrained)[:12]}"
        elif torch_installed():
            return None
        else:
            version_id = stored.newest_imagenet_version_id(session)
        known = stored.get_version(session, version_id) if version_id is not None else None
        return version_id if known is not None and known.deleted_at is None else None


class MissingOnnxError(MobilabelError):
    """A version has no stored ONNX file here, and this install has no torch to export one."""


def save_onnx_file(settings: Settings, checkpoint: Checkpoint) -> Path:
    """Export ``checkpoint`` to its version's ONNX file in the model cache (``models.onnx_file``); imports torch."""
    from ..models.engines import version_onnx

    path = onnx_file(settings, checkpoint.version_id)
    write_atomically(path, version_onnx(checkpoint))
    return path


def ensure_onnx_file(db: Database, settings: Settings, model: str | Checkpoint) -> Path:
    """The ONNX file of ``model`` (a version id or a checkpoint), exported now if this machine has none.

    Raises ``MissingOnnxError`` where it has none and no torch to export it.
    """
    version_id = model if isinstance(model, str) else model.version_id
    path = onnx_file(settings, version_id)
    if path.is_file():
        return path
    if not torch_installed():
        raise MissingOnnxError(
            f"model version {version_id} has no ONNX file at {path}, and this install has no torch to export one: "
            "run `mobilabel predict` (or any labelling on the CPU) once with the full install and the same MOBILABEL_HOME"
        )
    return save_onnx_file(settings, load_version(db, settings, model) if isinstance(model, str) else model)
