"""What a training run learns from, as one fingerprint: so a scheduled retrain on unchanged inputs can be skipped."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..imaging import content_identity
from ..object_paths import source_path
from ..object_store import ObjectStoreError
from ..pipeline.paths import iter_images
from ..storage import Database
from ..storage.corrections import VerifiedLabel, list_corrections
from ..storage.paths import absolute_path
from ..storage.training_runs import last_completed_metrics
from .data import content_key
from .options import TrainingOptions

# Where a version's metrics keep the fingerprint of the inputs it was trained on.
FINGERPRINT_METRIC = "inputs_fingerprint"
# How a verified label is keyed for the train/eval split: its content hash.
CORRECTION_KEY: Callable[[VerifiedLabel], str] = content_key


def verified_labels(db: Database, options: TrainingOptions) -> list[VerifiedLabel]:
    """The verified labels a run with ``options`` considers, stale ones too, so it can say it left them out
    (none with ``include_corrections`` off), check answers never: a version trained or calibrated on them would
    be right on its own check sample (``mobilabel.verification``). Reads each corrected file to check its content."""
    if not options.include_corrections:
        return []
    with db.transaction() as session:
        return [c for c in list_corrections(session) if not c.is_check]


def inputs_fingerprint(data_dir: Path | None, corrections: Sequence[VerifiedLabel], options: TrainingOptions) -> str:
    """SHA-256 hex over every image file under ``data_dir`` (relative path, size:mtime in ns or an object's ETag:size; none without a
    folder), the verified labels (key, path, label, state, audit) and the options: equal fingerprints mean a run
    would learn from the same inputs.

    Raises ``FolderError`` if ``data_dir`` cannot be read.
    """
    digest = hashlib.sha256()
    if data_dir is not None:
        root = source_path(absolute_path(data_dir))
        for path in iter_images(root):
            try:
                identity = content_identity(path)  # an object's ETag and size, from its listing
            except (OSError, ObjectStoreError):
                continue  # gone since the walk saw it: training will not see it either
            relative = "/".join(path.parts[len(root.parts) :])
            digest.update(f"{relative}\0{identity}\n".encode("utf-8", "surrogatepass"))
    verified = sorted((CORRECTION_KEY(c), c.image_path, c.label, c.state, c.audit) for c in corrections)
    digest.update(json.dumps(verified).encode("utf-8", "surrogatepass"))
    digest.update(json.dumps(dataclasses.asdict(options), sort_keys=True).encode())
    return digest.hexdigest()


def unchanged_since_last_run(db: Database, data_dir: Path | None, options: TrainingOptions) -> bool:
    """Whether the newest completed run on ``data_dir`` (None: on the answers alone) learnt from exactly the
    inputs a run with ``options`` would."""
    fingerprint = inputs_fingerprint(data_dir, verified_labels(db, options), options)
    with db.transaction() as session:
        metrics = last_completed_metrics(session, absolute_path(data_dir) if data_dir is not None else None)
    return metrics is not None and metrics.get(FINGERPRINT_METRIC) == fingerprint
