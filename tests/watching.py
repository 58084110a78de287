"""`watch` as a test drives it: one check at a time, labelling in this process; the scenarios both tiers run."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mobilabel.config import load_settings
from mobilabel.models import Classifier
from mobilabel.pipeline.build import build_labeller, load_classifier
from mobilabel.storage import Database, open_database
from mobilabel.storage.tables import Job, JobImage, Result
from mobilabel.versions.checkpoints import resolve_checkpoint
from mobilabel.watching.embedded import LabelHere
from mobilabel.watching.sources import FolderSource, Source
from mobilabel.watching.watcher import Check, Watcher
from tests.conftest import IMAGENET_WEIGHTS


@contextmanager
def imagenet_classifier(home: Path) -> Iterator[Classifier]:
    """The ImageNet classifier, built once for many tests (each registers its version in its own database)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOBILABEL_PRETRAINED", str(IMAGENET_WEIGHTS))
        patch.setenv("MOBILABEL_HOME", str(home))
        settings = load_settings()
        database = open_database("sqlite://")
        yield load_classifier(settings, database, resolve_checkpoint(database, settings))
        database.dispose()


def watcher_for(database: Database, classifier: Classifier, folder: Path, source: Source | None = None, **timing: Any) -> Watcher:
    """A watcher labelling ``folder`` in this process, polling (unless ``source`` brings events, or is another
    source: a prefix); ``timing``:
    ``settle_s`` and ``clock`` (default: any two checks tell a stable file)."""
    settings = load_settings()
    version = resolve_checkpoint(database, settings).version_id
    labeller = build_labeller(settings, classifier)
    hand_off = LabelHere(database, settings, folder, labeller, None, "test-watch", threading.Event(), lambda *_: None)
    return Watcher(database, source or FolderSource(folder), hand_off, lambda: version, **timing)


def labelled(database: Database) -> dict[str, int]:
    """Each ok row's path and how many jobs labelled it (1: exactly once)."""
    with database.transaction() as session:
        rows = session.execute(
            select(JobImage.image_path, func.count()).where(JobImage.outcome == "labelled").group_by(JobImage.image_path)
        )
        counts = {str(path): n for path, n in rows}
        ok = set(session.scalars(select(Result.image_path).where(Result.status == "ok")))
    return {path: n for path, n in counts.items() if path in ok}


def copy(photo: Path, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(photo, folder / (name or photo.name)))


def run_restart_scenario(database: Database, classifier: Classifier, folder: Path, photos: list[Path]) -> None:
    """Three photos watched; stopped; two arrive and one is edited; a new watcher labels those three, once each."""
    originals = [copy(photo, folder) for photo in photos[:3]]
    first = watcher_for(database, classifier, folder)
    first.check()
    assert first.check().handed == 3
    del first  # stopped; meanwhile two photos arrive and one is edited

    arrived = [copy(photo, folder / "later") for photo in photos[3:5]]
    st = originals[0].stat()
    os.utime(originals[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = watcher_for(database, classifier, folder)
    assert second.check() == Check(0, 3), "only the new and the changed, nothing done before"
    assert second.check().handed == 3
    assert second.check() == Check(0, 0)
    counts = labelled(database)
    assert {path: counts[str(path)] for path in [*originals[1:], *arrived]} == {p: 1 for p in [*originals[1:], *arrived]}
    assert counts[str(originals[0])] == 2, "edited: labelled again, once"
    with database.transaction() as session:
        assert [(job.total, job.done) for job in session.scalars(select(Job).order_by(Job.id))] == [(3, 3), (3, 3)]
