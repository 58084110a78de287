"""Training meets the workers: new versions roll out without a restart; training runs as a task, on a schedule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import groupby
from pathlib import Path

from sqlalchemy import select

from mobilabel.config import load_settings
from mobilabel.storage.tables import Result
from mobilabel.training import TrainingOptions, train
from tests.conftest import FLOWERS
from tests.integration.conftest import Cluster, wait_until


def small_training_folder(root: Path, per_class: int = 6) -> Path:
    """train/ and val/ with a few real photos per class (hard links: instant, no copies)."""
    for split, count in (("train", per_class), ("val", 2)):
        for folder in sorted((FLOWERS / split).iterdir()):
            target = root / split / folder.name
            target.mkdir(parents=True)
            for photo in sorted(folder.glob("*.jpg"))[:count]:
                os.link(photo, target / photo.name)
    return root


def many_photos(root: Path, count: int) -> Path:
    photos = sorted(FLOWERS.glob("*/*/*.jpg"))
    for i in range(count):
        target = root / f"{i // 500:02d}" / f"{i:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(photos[i % len(photos)], target)
    return root


def mobilabel(cluster: Cluster, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mobilabel", *arguments], env=cluster.env, capture_output=True, text=True, timeout=600
    )


def test_a_labelling_worker_switches_to_a_newly_promoted_version(cluster: Cluster, tmp_path: Path) -> None:
    data = small_training_folder(tmp_path / "data")
    photos = many_photos(tmp_path / "photos", 3000)
    worker = cluster.start_worker("w1")
    job_id = cluster.enqueue(photos, chunk_size=32)
    wait_until(lambda: cluster.job(job_id).done >= 64, 120, "labelling to be under way")
    # Frozen while the new version is trained and promoted, the job cannot end first, however fast the machine.
    worker.freeze()
    assert cluster.job(job_id).status == "running"

    db = cluster.database()
    report = train(db, load_settings(), data, TrainingOptions(epochs=1, batch_size=8))
    assert report.promotion.promoted, report.promotion.reason
    worker.thaw()

    def rows() -> list[Result]:
        with db.transaction() as session:
            return list(session.scalars(select(Result).where(Result.job_id == job_id).order_by(Result.updated_at, Result.id)))

    wait_until(lambda: sum(r.model_version_id == report.version_id for r in rows()) >= 64, 120, "results from the new version")
    assert mobilabel(cluster, "cancel", str(job_id)).returncode == 0
    wait_until(lambda: cluster.running_chunk_of(cluster.workers[0].children()) is None, 120, "the worker to finish its chunk")

    results = rows()
    db.dispose()
    versions_in_order = [version for version, _ in groupby(r.model_version_id for r in results)]
    old = results[0].model_version_id
    assert old.startswith("imagenet-")
    assert versions_in_order == [old, report.version_id], "old results, then new ones: one switch, never back"
    for _, batch in groupby(results, key=lambda r: r.updated_at):  # one write, one batch
        assert len({r.model_version_id for r in batch}) == 1, "no batch mixes two versions"
    assert {r.label for r in results if r.model_version_id == report.version_id} <= set(report.classes)


def test_train_queue_runs_on_a_worker_with_visible_progress(cluster: Cluster, tmp_path: Path) -> None:
    data = small_training_folder(tmp_path / "data")
    cluster.start_worker("w1")
    queued = mobilabel(cluster, "train", str(data), "--queue", "--epochs", "2", "--batch-size", "8")
    assert queued.returncode == 0, queued.stderr
    run_id = queued.stdout.strip()
    watched = mobilabel(cluster, "runs", "--watch", run_id, "--format", "json")
    assert watched.returncode == 0, watched.stderr
    (run,) = [r for r in json.loads(watched.stdout) if str(r["id"]) == run_id]
    assert (run["status"], run["trigger"], run["promoted"]) == ("completed", "cli", True), run
    assert run["progress"].startswith("epoch 2/2 val 10/10")
    versions = json.loads(mobilabel(cluster, "models", "--format", "json").stdout)
    (trained,) = [v for v in versions if v["id"] == run["version_id"]]
    assert trained["active"] and 0 <= trained["val_accuracy"] <= 1
    assert trained["classes"] == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]

    # The same options and seed here, decoding in processes on every core: the same model.
    db = cluster.database()
    local = train(db, load_settings(), data, TrainingOptions(epochs=2, batch_size=8))
    db.dispose()
    assert local.best_epoch == trained["best_epoch"]
    for mine, theirs in zip(local.metrics["epochs"], trained["metrics"]["epochs"], strict=True):
        assert (mine["train_accuracy"], mine["val_accuracy"]) == (theirs["train_accuracy"], theirs["val_accuracy"])
        assert abs(mine["train_loss"] - theirs["train_loss"]) <= 1e-4 and abs(mine["val_loss"] - theirs["val_loss"]) <= 1e-4
    assert not local.promotion.promoted, "it learnt the same, so it is not better"


def test_a_schedule_fires_and_registers_a_version(cluster: Cluster, tmp_path: Path) -> None:
    data = small_training_folder(tmp_path / "data", per_class=4)
    cluster.start_worker("w1")
    scheduler = cluster.start("scheduler", ["scheduler", "--schedule", "3", "--data", str(data)])

    def scheduled_runs() -> list[dict[str, object]]:
        listed = mobilabel(cluster, "runs", "--format", "json")
        return [r for r in json.loads(listed.stdout) if r["trigger"] == "schedule"]

    # Beat logs "Sending due task" before it publishes: stop it only once a worker has the task.
    wait_until(lambda: "Sending due task retrain" in scheduler.log and scheduled_runs(), 60, "the schedule to fire")
    scheduler.kill_all()
    wait_until(lambda: any(r["status"] == "completed" for r in scheduled_runs()), 300, "the scheduled run to finish")
    run = next(r for r in scheduled_runs() if r["status"] == "completed")
    versions = {v["id"]: v for v in json.loads(mobilabel(cluster, "models", "--format", "json").stdout)}
    assert run["version_id"] in versions and run["promoted"] is True
    assert versions[run["version_id"]]["train_images"] == 20
