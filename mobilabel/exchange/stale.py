"""Removing what an earlier class-folder export into the same folder placed and this one does not.

Without it, an image whose label changed between two exports would sit in both label folders.
The earlier ``manifest.csv`` and the new rows are both in path order, so one pass over each finds
the stale files (an image no longer exported, or exported under another file) in constant memory.
Only files that manifest lists, as ``<label>/<name>`` inside the folder, are ever removed; one that
now holds an image of this export (a copy of the same content took its name) is kept; and if the
old manifest turns out not to be in path order (edited by hand), removing stops.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

from ..storage import Database
from ..storage.export_rows import ExportFilter, rows_with_content
from ..storage.pathcodec import to_stored
from .folders import label_folder, names_for


class StaleFiles:
    """Walks the earlier manifest beside the new rows; ``settle`` each new row in order, then ``finish``."""

    def __init__(self, db: Database, destination: Path, manifest: Path, where: ExportFilter) -> None:
        self._db = db
        self._destination = destination
        self._where = where
        self._file: TextIO | None = None
        self._rows: csv.DictReader[str] | None = None
        self._current: dict[str, str] | None = None
        self._last = ""
        self.removed = 0
        if manifest.is_file():
            self._file = manifest.open(newline="", encoding="utf-8")
            self._rows = csv.DictReader(self._file)
            if not {"file", "source_path", "content_hash"} <= set(self._rows.fieldnames or ()):
                self.close()
            else:
                self._advance()

    def settle(self, source_path: str, file: str | None) -> None:
        """The new export placed the image at ``source_path`` (stored form) as ``file``, or skipped it (None)."""
        while self._current is not None and self._current["source_path"] < source_path:
            self._remove(self._current)
            self._advance()
        if self._current is not None and self._current["source_path"] == source_path:
            if self._current["file"] != file:
                self._remove(self._current)
            self._advance()

    def finish(self) -> None:
        """Remove what the earlier manifest lists after the last new row."""
        while self._current is not None:
            self._remove(self._current)
            self._advance()
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = self._rows = self._current = None

    def _advance(self) -> None:
        assert self._rows is not None
        self._current = next(self._rows, None)
        if self._current is None:
            self.close()
        elif self._current["source_path"] < self._last:
            self.close()  # not in path order: the walk would misjudge what is stale
        else:
            self._last = self._current["source_path"]

    def _remove(self, entry: dict[str, str]) -> None:
        folder, _, name = entry["file"].partition("/")
        if not folder or not name or "/" in name or folder in (".", "..") or name in (".", ".."):
            return
        target = self._destination / folder / name
        if not os.path.lexists(target) or target.is_dir() or self._taken(folder, name, entry):
            return
        target.unlink()
        self.removed += 1

    def _taken(self, folder: str, name: str, entry: dict[str, str]) -> bool:
        """Whether another image of this export, a copy of the entry's content, may have taken ``folder/name``."""
        content_hash = entry["content_hash"]
        if not content_hash:
            return False
        with self._db.transaction() as session:
            rows = rows_with_content(session, self._where, content_hash)
        return any(
            to_stored(r.image_path) != entry["source_path"]
            and label_folder(r.label) == folder
            and name in names_for(r.image_path, content_hash)
            and os.path.exists(r.image_path)
            for r in rows
        )
