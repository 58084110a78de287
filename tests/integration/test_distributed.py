"""The distributed path as a user drives it, and its agreement with the embedded path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mobilabel.cli.main import cli
from mobilabel.storage import open_database
from mobilabel.storage.result_queries import ResultFilter, query_results
from tests.conftest import FLOWERS
from tests.integration.conftest import Cluster


def results_by_path(url: str) -> dict[str, tuple[str | None, float | None, str]]:
    db = open_database(url, auto_upgrade=True)
    with db.transaction() as session:
        rows = {r.image_path: (r.label, r.confidence, r.model_version_id) for r in query_results(session, ResultFilter())}
    db.dispose()
    return rows


def test_enqueue_status_and_the_embedded_path_agree(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_worker("w1", concurrency=2)
    enqueued = subprocess.run(
        [sys.executable, "-m", "mobilabel", "enqueue", str(FLOWERS / "val"), "--chunk", "16"],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    )
    job_id = int(enqueued.stdout.strip())
    watched = subprocess.run(
        [sys.executable, "-m", "mobilabel", "status", str(job_id), "--watch", "--interval", "0.2"],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert watched.returncode == 0, watched.stderr
    assert (
        f"job {job_id} completed: 120/120 images (120 labelled, 0 failed, 0 skipped (unchanged)); chunks: 8 done"
        in watched.stdout
    )

    embedded_url = f"sqlite:///{tmp_path / 'embedded.db'}"
    labelled = CliRunner().invoke(cli, ["label", str(FLOWERS / "val")], env={"MOBILABEL_DATABASE_URL": embedded_url})
    assert labelled.exit_code == 0, labelled.output

    distributed, embedded = results_by_path(cluster.database_url), results_by_path(embedded_url)
    assert distributed.keys() == embedded.keys() and len(embedded) == 120
    for path, (label, confidence, version) in embedded.items():
        other_label, other_confidence, other_version = distributed[path]
        assert (other_label, other_version) == (label, version), path
        assert abs(other_confidence - confidence) < 1e-4, path  # type: ignore[operator]


def test_cancel_stops_chunks_that_have_not_started(cluster: Cluster) -> None:
    job_id = cluster.enqueue(FLOWERS, chunk_size=8)  # no worker yet: every chunk waits
    cancelled = CliRunner().invoke(cli, ["cancel", str(job_id)])
    assert cancelled.exit_code == 0 and "77 chunks will not run" in cancelled.output
    worker = cluster.start_worker("w1")
    probe = cluster.enqueue(FLOWERS / "val" / "roses", chunk_size=8)
    cluster.wait_for_job(probe, 120)  # the worker has drained the queue, cancelled messages included
    job = cluster.job(job_id)
    assert (job.status, job.done, job.failed) == ("cancelled", 0, 0)
    assert cluster.result_counts() == (20, 20), "only the probe job's images were labelled"
    assert worker.alive()
