"""A version trained on the embedded SQLite database, moved to PostgreSQL by a bundle
(`mobilabel models export` then `models import`), labels the same photos the same there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.models import Checkpoint
from mobilabel.storage import open_database
from mobilabel.storage.tables import Result as ResultRow
from mobilabel.versions.checkpoints import register_checkpoint
from tests.conftest import FLOWERS, IMAGENET_WEIGHTS


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def labels() -> dict[str, tuple[str | None, float | None, str]]:
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        rows = session.execute(select(ResultRow.image_path, ResultRow.label, ResultRow.confidence, ResultRow.model_version_id))
        found = {path: (label, confidence, version) for path, label, confidence, version in rows}
    db.dispose()
    return found


def test_a_bundle_from_sqlite_labels_the_same_in_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for photo in sorted((FLOWERS / "val").rglob("*.jpg"))[::15]:
        shutil.copyfile(photo, photos / photo.name)
    db = open_database(load_settings().database_url, auto_upgrade=True)
    version_id = register_checkpoint(db, Checkpoint.load(IMAGENET_WEIGHTS), activate=True)
    db.dispose()
    assert run("label", str(photos)).exit_code == 0
    embedded = labels()
    assert len(embedded) == len(list(photos.iterdir())) >= 6 and {v for _, _, v in embedded.values()} == {version_id}
    bundle = tmp_path / "version.zip"
    assert run("models", "export", "active", "--output", str(bundle)).exit_code == 0

    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    monkeypatch.setenv("MOBILABEL_HOME", str(tmp_path / "worker-home"))
    assert run("db", "upgrade").exit_code == 0
    imported = run("models", "import", str(bundle), "--activate")
    assert imported.exit_code == 0, imported.output
    assert run("label", str(photos)).exit_code == 0
    server = labels()
    assert server.keys() == embedded.keys()
    for path, (label, confidence, version) in server.items():
        assert (label, version) == embedded[path][::2]
        assert confidence == pytest.approx(embedded[path][1], abs=1e-6)
