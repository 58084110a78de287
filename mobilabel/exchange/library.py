"""Exporting the library: each image's reviewed label into a folder, as class folders or Label Studio tasks.

Rows stream from the database in path order (storage.export_rows) and leave one at a time, so
memory stays constant however many images there are; the manifest and the task file are written
under temporary names and take their place at the end. Exporting again into the same folder is
idempotent: files already there are reused (exchange.folders), the manifest rewritten, and files
the earlier export placed that this one does not are removed (exchange.stale).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MobilabelError
from ..files import replacing, write_atomically
from ..storage import Database
from ..storage.export_rows import ExportFilter, ExportRow, check_export_filter, export_rows
from ..storage.pathcodec import printable, to_stored
from . import labelstudio
from .folders import MODES, SYMLINK, label_folder, place
from .stale import StaleFiles

IMAGEFOLDER = "imagefolder"
LABELSTUDIO = "labelstudio"
FORMATS = (IMAGEFOLDER, LABELSTUDIO)
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "source_path", "label", "review_state", "version", "confidence", "content_hash")
TASKS = "tasks.json"
LABELING_CONFIG = "labelstudio-config.xml"
EXAMPLES_KEPT = 20
PROGRESS_EVERY = 1000


class ExportError(MobilabelError):
    """An export that cannot start: a destination that is not a folder, an unknown mode or format."""


@dataclass(frozen=True)
class ExportOptions:
    fmt: str = IMAGEFOLDER
    mode: str = SYMLINK  # imagefolder only
    document_root: str = "/"  # labelstudio only: Label Studio's LOCAL_FILES_DOCUMENT_ROOT
    image_url: str = labelstudio.LOCAL_FILES_URL  # labelstudio only: what goes before the relative path


@dataclass
class ExportSummary:
    """What an export did: ``images`` in the manifest, ``made`` files made now (the rest were
    there already), ``skipped`` images left out with the first few reasons, images per label,
    ``removed`` stale files of an earlier export."""

    images: int = 0
    made: int = 0
    skipped: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    removed: int = 0  # files an earlier export into the same folder placed and this one does not (exchange.stale)

    def snapshot(self) -> ExportSummary:
        """A copy that later progress leaves as it is."""
        return ExportSummary(self.images, self.made, self.skipped, list(self.examples), dict(self.labels), self.removed)

    def skip(self, path: str, reason: str) -> None:
        self.skipped += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append((printable(path), reason))


def export_library(
    db: Database,
    destination: Path,
    where: ExportFilter,
    options: ExportOptions,
    on_progress: Callable[[ExportSummary], None] | None = None,
) -> ExportSummary:
    """Export what ``where`` takes into ``destination`` (made if missing) as ``options`` say.

    imagefolder: ``destination/<label>/<file>`` per image and ``manifest.csv``; labelstudio:
    ``tasks.json``, ``labelstudio-config.xml`` and ``manifest.csv``. An image that cannot be
    placed (gone, unreadable, outside the document root) is skipped with its reason; the rest go on.
    Raises ``ExportError`` for a destination or option that cannot work, ``FilterError`` for a job or label that does not exist.
    """
    if options.fmt not in FORMATS:
        raise ExportError(f"unknown format {options.fmt!r}; choose one of {', '.join(FORMATS)}")
    if options.mode not in MODES:
        raise ExportError(f"unknown mode {options.mode!r}; choose one of {', '.join(MODES)}")
    with db.transaction() as session:
        check_export_filter(session, where)
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot make the folder {destination}: {exc.strerror or exc}") from exc
    summary = ExportSummary()
    stale = StaleFiles(db, destination, destination / MANIFEST, where) if options.fmt == IMAGEFOLDER else None
    with replacing(destination / MANIFEST, newline="") as manifest_file:
        manifest = csv.writer(manifest_file, lineterminator="\n")
        manifest.writerow(MANIFEST_COLUMNS)
        if stale is not None:
            try:
                _folders(db, destination, where, options, summary, manifest, on_progress, stale)
            finally:
                stale.close()
            summary.removed = stale.removed
        else:
            _tasks(db, destination, where, options, summary, manifest, on_progress)
    if options.fmt == LABELSTUDIO:
        write_atomically(destination / LABELING_CONFIG, labelstudio.labeling_config(summary.labels).encode())
    return summary


def _folders(
    db: Database,
    destination: Path,
    where: ExportFilter,
    options: ExportOptions,
    summary: ExportSummary,
    manifest: Any,
    on_progress: Callable[[ExportSummary], None] | None,
    stale: StaleFiles,
) -> None:
    made_folders: set[str] = set()  # one per label: bounded by the classes, not the images
    for row in export_rows(db, where):
        folder = label_folder(row.label)
        file = None
        try:
            if folder not in made_folders:
                (destination / folder).mkdir(exist_ok=True)
                made_folders.add(folder)
            name, made = place(row.image_path, destination / folder, row.content_hash, options.mode)
        except OSError as exc:
            summary.skip(row.image_path, exc.strerror or str(exc))
        else:
            file = printable(f"{folder}/{name}")
            _record(summary, manifest, row, file, made)
        stale.settle(to_stored(row.image_path), file)
        _progress(summary, on_progress)
    stale.finish()


def _tasks(
    db: Database,
    destination: Path,
    where: ExportFilter,
    options: ExportOptions,
    summary: ExportSummary,
    manifest: Any,
    on_progress: Callable[[ExportSummary], None] | None,
) -> None:
    with replacing(destination / TASKS) as tasks:
        tasks.write("[")
        for row in export_rows(db, where):
            try:
                reference = labelstudio.image_reference(row.image_path, options.document_root, options.image_url)
            except labelstudio.LabelStudioError as exc:
                summary.skip(row.image_path, str(exc))
            else:
                tasks.write(
                    ("\n" if not summary.images else ",\n") + json.dumps(labelstudio.task(row, reference), ensure_ascii=False)
                )
                _record(summary, manifest, row, reference, True)
            _progress(summary, on_progress)
        tasks.write("\n]\n")


def _record(summary: ExportSummary, manifest: Any, row: ExportRow, file: str, made: bool) -> None:
    manifest.writerow(
        (file, to_stored(row.image_path), row.label, row.review_state, row.model_version_id, row.confidence, row.content_hash)
    )
    summary.images += 1
    summary.made += made
    summary.labels[row.label] = summary.labels.get(row.label, 0) + 1


def _progress(summary: ExportSummary, on_progress: Callable[[ExportSummary], None] | None) -> None:
    if on_progress is not None and (summary.images + summary.skipped) % PROGRESS_EVERY == 0:
        on_progress(summary)
