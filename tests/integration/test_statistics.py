"""Planner statistics are current after a job on PostgreSQL, embedded or distributed: exact-path lookups
take the B-tree from the first query on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from mobilabel.storage import Database, open_database
from tests.integration.conftest import Cluster


def hard_links(folder: Path, photos: list[Path], count: int) -> Path:
    """``count`` files that are copies of a few photos (hard links): a big job that needs few inferences."""
    for i in range(count):
        target = folder / f"{i // 500:02d}" / f"{i:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(photos[i % len(photos)], target)
    return folder


def assert_statistics_current(url: str, path: str) -> None:
    db = Database(url)
    with db.transaction() as session:
        analyzed = dict(session.execute(text(
            "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN ('results', 'job_images')"
        )).all())  # fmt: skip
        plan = "\n".join(session.scalars(text("EXPLAIN SELECT * FROM results WHERE image_path = :path"), {"path": path}))
    db.dispose()
    assert all(analyzed.values()) and len(analyzed) == 2, analyzed
    assert "Index Scan" in plan and "Seq Scan" not in plan and "pattern" not in plan, plan


def test_a_job_leaves_statistics_current_embedded(
    postgres_url: str, tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    open_database(postgres_url, auto_upgrade=True).dispose()
    folder = hard_links(tmp_path / "photos", val_images[:10], 2000)
    labelled = subprocess.run(
        [sys.executable, "-m", "mobilabel", "label", str(folder)], env=os.environ, capture_output=True, text=True, timeout=300
    )
    assert labelled.returncode == 0, labelled.stderr[-2000:]
    assert "2000 labelled" in labelled.stderr
    assert_statistics_current(postgres_url, str(folder / "00" / "00123.jpg"))


def test_a_job_leaves_statistics_current_distributed(cluster: Cluster, tmp_path: Path, val_images: list[Path]) -> None:
    folder = hard_links(tmp_path / "photos", val_images[:10], 2000)
    cluster.start_worker("w1")
    job = cluster.wait_for_job(cluster.enqueue(folder, chunk_size=500), 300)
    assert (job.done, job.failed) == (2000, 0)
    assert_statistics_current(cluster.database_url, str(folder / "01" / "01234.jpg"))
