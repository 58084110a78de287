"""One inference per (content hash, model version) on PostgreSQL: embedded and in a worker's chunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilabel.storage import open_database
from tests.copies import run_copies_scenario


def test_copies_cost_one_inference_per_content_on_postgresql(
    postgres_url: str, tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    open_database(postgres_url, auto_upgrade=True).dispose()
    run_copies_scenario(postgres_url, tmp_path, val_images, monkeypatch)
