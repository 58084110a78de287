"""Fixtures of the exchange tests: a small labelled library to export and import back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mobilabel.config import load_settings
from mobilabel.hashing import hash_file
from mobilabel.storage import jobs, open_database, versions
from mobilabel.storage.corrections import CorrectionRecord, save_corrections
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from tests.conftest import FLOWERS

CLASSES = ["daisy", "roses", "tulips"]


@pytest.fixture
def library(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Twelve photos copied under tmp_path/photos, labelled by version v1 in job 1 (one rose called a tulip),
    four of them verified (the rose among them, as roses). Two daisies share the name same.jpg.
    Returns each path's true class."""
    truth: dict[str, str] = {}
    for name in CLASSES:
        for i, photo in enumerate(sorted((FLOWERS / "val" / name).glob("*.jpg"))[:4]):
            folder = tmp_path / "photos" / ("a" if i % 2 else "b")
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / ("same.jpg" if name == "daisy" and i < 2 else f"{name}_{photo.name}")
            shutil.copyfile(photo, target)
            truth[str(target)] = name
    paths = sorted(truth)
    wrong = next(p for p in paths if truth[p] == "roses")
    db = open_database(load_settings().database_url, auto_upgrade=True)
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, CLASSES, {}, b"w"), activate=True)
        job = jobs.create_job(session, str(tmp_path / "photos"), "v1")
        records = [
            ResultRecord(
                p, "1:1", ResultStatus.OK, "tulips" if p == wrong else truth[p], 0.5 + i / 100, content_hash=hash_file(p)
            )
            for i, p in enumerate(paths)
        ]
        write_results(session, records, "v1", job.id)
    with db.transaction() as session:
        save_corrections(session, [CorrectionRecord(p, truth[p]) for p in [wrong, *paths[::4]]])
    db.dispose()
    return truth
