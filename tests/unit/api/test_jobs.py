"""/api/jobs: a folder labelled as a job by the server itself, on real photos, confined to the allowed roots."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mobilabel.cli.main import cli
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS


def photos(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for source in sorted((FLOWERS / "val" / "roses").glob("*.jpg"))[:count]:
        shutil.copy(source, folder / source.name)
    return folder


def wait_for_end(client: TestClient, job_id: int) -> dict[str, Any]:
    client.app.state.runner.wait_idle(timeout=120)  # type: ignore[attr-defined]
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job


def test_a_folder_becomes_a_job_labelled_by_the_server(api: ClientFactory, tmp_path: Path) -> None:
    folder = photos(tmp_path / "root" / "roses", 6)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    created = client.post("/api/jobs", json={"folder": str(folder)})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    job = wait_for_end(client, job_id)
    assert (job["status"], job["total"], job["done"], job["failed"], job["processed"]) == ("completed", 7, 6, 1, 7), job
    assert job["rate"] > 0 and job["eta_s"] is None and job["model_version_id"].startswith("imagenet-")
    assert [j["id"] for j in client.get("/api/jobs").json()] == [job_id]
    rows = client.get("/api/results", params={"job": job_id, "limit": 100}).json()["items"]
    assert len(rows) == 7
    (failed,) = [r for r in rows if r["status"] == "failed"]
    assert failed["image_path"].endswith("broken.jpg") and "corrupt" in failed["error"]
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 409
    assert client.post("/api/jobs/999/cancel").status_code == 404
    assert client.get("/api/jobs/999").status_code == 404


def test_a_rerun_counts_unchanged_images_as_skipped_as_the_cli_does(api: ClientFactory, tmp_path: Path) -> None:
    folder = photos(tmp_path / "root" / "roses", 3)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    first = wait_for_end(client, client.post("/api/jobs", json={"folder": str(folder)}).json()["id"])
    assert (first["total"], first["done"], first["failed"], first["skipped"], first["processed"]) == (4, 3, 1, 0, 4)
    # Unchanged photos are skipped; the failed image is tried again.
    again = wait_for_end(client, client.post("/api/jobs", json={"folder": str(folder)}).json()["id"])
    counts = ("status", "total", "done", "failed", "skipped")
    assert [again[c] for c in counts] == ["completed", 4, 0, 1, 3] and again["processed"] == 4, again
    assert again["rate"] > 0 and again["eta_s"] is None
    listed = CliRunner().invoke(cli, ["jobs", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert [{c: j[c] for c in counts} for j in json.loads(listed.output)] == [
        {c: j[c] for c in counts} for j in client.get("/api/jobs").json()
    ]


def test_job_folders_must_lie_under_the_allowed_roots(api: ClientFactory, tmp_path: Path) -> None:
    inside = photos(tmp_path / "root" / "in", 1)
    outside = photos(tmp_path / "elsewhere", 1)
    (tmp_path / "root" / "link").symlink_to(outside, target_is_directory=True)
    unconfined = api()
    refused = unconfined.post("/api/jobs", json={"folder": str(inside)})
    assert refused.status_code == 403 and "MOBILABEL_ALLOWED_ROOTS" in refused.json()["detail"]
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    for folder in (outside, tmp_path / "root" / "link", tmp_path / "root" / "in" / ".." / ".." / "elsewhere", Path("/")):
        answer = client.post("/api/jobs", json={"folder": str(folder)})
        assert answer.status_code == 403, (folder, answer.text)
    assert client.post("/api/jobs", json={"folder": "root/in"}).status_code == 422
    missing = client.post("/api/jobs", json={"folder": str(tmp_path / "root" / "missing")})
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    empty = tmp_path / "root" / "empty"
    empty.mkdir()
    assert "no images" in client.post("/api/jobs", json={"folder": str(empty)}).json()["detail"]
    assert client.get("/api/jobs").json() == []


def test_a_cancelled_job_that_has_not_started_never_runs(api: ClientFactory, tmp_path: Path) -> None:
    folder = photos(tmp_path / "root" / "roses", 2)
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    gate = threading.Event()
    client.app.state.runner._executor.submit(gate.wait)  # the server's one job thread is busy  # type: ignore[attr-defined]
    job_id = client.post("/api/jobs", json={"folder": str(folder)}).json()["id"]
    cancelled = client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    gate.set()
    job = wait_for_end(client, job_id)
    assert job["status"] == "cancelled" and job["done"] == 0
    assert client.get("/api/results", params={"job": job_id}).json()["items"] == []


def test_a_running_job_stops_after_the_batch_it_is_labelling(
    api: ClientFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mobilabel.api.services.job_runner import JobRunner
    from mobilabel.config import load_settings
    from mobilabel.pipeline.build import build_labeller, load_classifier
    from mobilabel.storage import open_database
    from mobilabel.versions.checkpoints import resolve_checkpoint

    folder = photos(tmp_path / "root" / "roses", 6)
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"), MOBILABEL_BATCH_SIZE="1", MOBILABEL_LANES="1")
    settings = load_settings()
    db = open_database(settings.database_url)
    classifier = load_classifier(settings, db, resolve_checkpoint(db, settings))
    db.dispose()
    asked, running, go_on = 0, threading.Event(), threading.Event()

    def gated() -> Any:
        # The model is asked for before each batch is read: the third time, hold until the test has cancelled.
        nonlocal asked
        asked += 1
        if asked == 3:
            running.set()
            go_on.wait(60)
        return classifier

    monkeypatch.setattr(JobRunner, "_labeller_once", lambda self: build_labeller(settings, gated))
    job_id = client.post("/api/jobs", json={"folder": str(folder)}).json()["id"]
    assert running.wait(60)
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    go_on.set()
    job = wait_for_end(client, job_id)
    assert job["status"] == "cancelled" and job["error"] == "cancelled through the API"
    assert 0 < job["done"] < 6, job  # stopped part-way; what it labelled is kept
    assert len(client.get("/api/results", params={"job": job_id}).json()["items"]) == job["done"]
