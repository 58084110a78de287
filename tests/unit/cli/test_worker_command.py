"""`mobilabel worker` says at start which broker and which database it uses, and where each setting comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilabel.cli.worker import startup_line
from mobilabel.config import load_settings


def test_a_worker_without_settings_names_the_default_broker_and_database(
    private_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a lone worker took chunks from localhost's Redis database 0 without a word.
    monkeypatch.delenv("MOBILABEL_DATABASE_URL")
    assert startup_line(load_settings()) == (
        "worker: broker redis://localhost:6379/0 (default; MOBILABEL_BROKER_URL sets another), "
        f"results to sqlite:///{private_environment / 'mobilabel.db'} (default; MOBILABEL_DATABASE_URL sets another)"
    )


def test_a_worker_names_its_settings_without_their_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_BROKER_URL", "redis://:s3cret@queue.example:6379/2")
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", "postgresql://labels:hunter2@db.example/labels")
    assert startup_line(load_settings()) == (
        "worker: broker redis://:***@queue.example:6379/2 (MOBILABEL_BROKER_URL), "
        "results to postgresql://labels:***@db.example/labels (MOBILABEL_DATABASE_URL)"
    )
