"""`watch` on PostgreSQL: a restart catches up exactly once (the command and its workers: test_compose)."""

from __future__ import annotations

from pathlib import Path

from mobilabel.storage import open_database
from tests.watching import imagenet_classifier, run_restart_scenario


def test_a_restart_catches_up_exactly_once_on_postgresql(postgres_url: str, tmp_path: Path, val_images: list[Path]) -> None:
    database = open_database(postgres_url, auto_upgrade=True)
    try:
        with imagenet_classifier(tmp_path / "home") as classifier:
            run_restart_scenario(database, classifier, tmp_path / "library", val_images)
    finally:
        database.dispose()
