"""Incremental labelling on SQLite: unchanged files are skipped without building a model or reading a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mobilabel.storage import open_database
from tests.incremental import run_incremental_scenario


def test_label_again_labels_only_what_changed(tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url = os.environ["MOBILABEL_DATABASE_URL"]
    open_database(url).dispose()
    run_incremental_scenario(url, tmp_path / "photos", val_images, monkeypatch)
