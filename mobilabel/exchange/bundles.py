"""A model version as one file that moves between databases: a zip of its checkpoint, report and record.

``bundle.json`` holds the version's record (id, architecture, classes, metrics with the training
history, source, when it was made, the checkpoint's sha256) and, for the record, its activations
in the database it came from; ``checkpoint.pt`` the checkpoint as stored; ``report.png`` the
training report when this machine has it. Calibration joins the bundle with issue 28. Imported,
the version keeps its id, creation time, metrics and source; it is not activated unless asked,
and its activations in the new database start there.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import MobilabelError
from ..files import write_atomically
from ..models import Checkpoint, CheckpointError
from ..storage import Database
from ..storage import versions as stored
from ..versions.files import report_file

FORMAT = "mobilabel.bundle/1"
RECORD = "bundle.json"
CHECKPOINT = "checkpoint.pt"
REPORT = "report.png"
_MAX_MEMBER_BYTES = 1 << 30  # refuse to inflate more than this per member (a zip bomb, not a MobileNet)


class BundleError(MobilabelError):
    """A file that is not a bundle mobilabel made, or one that would overwrite a different version."""


@dataclass(frozen=True)
class Bundle:
    record: dict[str, Any]
    checkpoint: bytes
    report: bytes | None


def write_bundle(db: Database, settings: Settings, version_id: str, output: Path) -> Bundle:
    """Write version ``version_id`` (an id, a unique prefix, or ``active``) to ``output``; returns what was written.

    Raises ``UnknownVersionError`` for a version that does not exist or was deleted.
    """
    with db.transaction() as session:
        version_id = stored.resolve_version(session, version_id)
        version = stored.get_version(session, version_id)
        assert version is not None
        checkpoint, sha256 = stored.checkpoint_bytes(session, version_id)
        activations = [
            {"reason": a.reason, "previous_version_id": a.previous_version_id, "activated_at": a.activated_at.isoformat()}
            for a in reversed(stored.activation_history(session))
            if a.version_id == version_id
        ]
        record = {
            "format": FORMAT, "id": version.id, "arch": version.arch, "alpha": version.alpha, "classes": list(version.classes),
            "metrics": version.metrics, "source": version.source, "created_at": version.created_at.isoformat(),
            "sha256": sha256, "size_bytes": len(checkpoint), "activations": activations, "calibration": None,
        }  # fmt: skip
    report_png = report_file(settings, version_id)
    report = report_png.read_bytes() if report_png.is_file() else None
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.part")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr(RECORD, json.dumps(record, indent=2, default=str))
            bundle.writestr(CHECKPOINT, checkpoint)
            if report is not None:
                bundle.writestr(REPORT, report)
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Bundle(record, checkpoint, report)


def read_bundle(path: Path) -> Bundle:
    """The bundle at ``path``, its checkpoint checked against the recorded sha256.

    Raises ``BundleError`` for a file that is not one, or whose checkpoint does not match.
    """
    try:
        with zipfile.ZipFile(path) as bundle:
            members = {info.filename: info for info in bundle.infolist()}
            if RECORD not in members or CHECKPOINT not in members:
                raise BundleError(
                    f"{path} is not a mobilabel bundle: it lacks {RECORD} or {CHECKPOINT} (mobilabel models export)"
                )
            if any(info.file_size > _MAX_MEMBER_BYTES for info in members.values()):
                raise BundleError(f"{path}: a member inflates to more than {_MAX_MEMBER_BYTES >> 20} MiB; refused")
            record = json.loads(bundle.read(RECORD))
            checkpoint = bundle.read(CHECKPOINT)
            report = bundle.read(REPORT) if REPORT in members else None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise BundleError(f"cannot read {path} as a bundle: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise BundleError(f"{path}: {RECORD} is not of format {FORMAT}")
    if hashlib.sha256(checkpoint).hexdigest() != record.get("sha256"):
        raise BundleError(f"{path}: the checkpoint does not match the sha256 recorded with it (damaged in transit?)")
    return Bundle(record, checkpoint, report)


def import_bundle(db: Database, settings: Settings, bundle: Bundle, activate: bool = False) -> bool:
    """Register the bundle's version under its own id (and its report in this machine's model
    cache); returns whether it was new here. Importing the same bundle again changes nothing.

    Raises ``BundleError`` when the checkpoint is not the version the record names, or this
    database holds another version under the same id.
    """
    record = bundle.record
    try:
        checkpoint = Checkpoint.from_bytes(bundle.checkpoint, source=f"bundle of {record.get('id')}")
    except CheckpointError as exc:
        raise BundleError(str(exc)) from exc
    if checkpoint.version_id != record["id"] or checkpoint.classes != record["classes"]:
        raise BundleError(f"the bundle's checkpoint is version {checkpoint.version_id}, not the {record['id']} its record names")
    with db.transaction() as session:
        known = stored.get_version(session, record["id"])
        if known is not None and known.deleted_at is None and known.sha256 != record["sha256"]:
            raise BundleError(
                f"this database has another model version {record['id']} (a different checkpoint); nothing imported"
            )
        new = known is None or known.deleted_at is not None
        stored.register_version(session, stored.VersionRecord(
            id=record["id"], arch=record["arch"], alpha=float(record["alpha"]), classes=list(record["classes"]),
            metrics=dict(record["metrics"]), checkpoint=bundle.checkpoint, source=str(record.get("source") or ""),
            created_at=datetime.fromisoformat(record["created_at"]),
        ))  # fmt: skip
        if activate:
            stored.activate_version(session, record["id"])
    if bundle.report is not None:
        write_atomically(report_file(settings, record["id"]), bundle.report)
    return new
