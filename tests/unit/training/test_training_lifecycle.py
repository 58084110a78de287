"""Training in the label lifecycle: verified labels by default, promotion only when better, skipped retrains."""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.hashing import hash_file
from mobilabel.storage import open_database
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage import versions as stored
from mobilabel.storage.corrections import CorrectionRecord, save_corrections
from mobilabel.training import TrainingOptions, evidence, find_split, train
from mobilabel.training.data import split_of
from mobilabel.training.inputs import unchanged_since_last_run
from mobilabel.worker.runtime import WorkerRuntime
from mobilabel.worker.training_task import scheduled_retrain
from tests.unit.training.test_training import flowers, tiny_dataset

FAST = TrainingOptions(epochs=2, batch_size=8)


def test_five_verified_labels_are_learnt_and_evaluated_and_the_new_version_must_beat_the_old_on_the_same_images(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence, "MIN_COMPARED", 1)  # the comparison decides on this tiny evaluation set
    settings = load_settings()
    db = open_database(database_url, auto_upgrade=True)
    data = tiny_dataset(tmp_path / "data", train_count=6, val_count=3)
    first = train(db, settings, data, FAST)
    assert first.promotion.promoted

    # Verify 5 photos as roses: 3 whose content hashes to training, 2 to evaluation; daisies of
    # the folder (their folder label overridden) first, then tulips from outside it.
    split = find_split(data)
    pool = [str(i.path) for i in split.train + split.val if i.label == 0] + [str(p) for p in flowers("train", "tulips", 50)]
    to_train = [p for p in pool if split_of(hash_file(p)) == "train"][:3]
    to_eval = [p for p in pool if split_of(hash_file(p)) == "eval"][:2]
    with db.transaction() as session:
        save_corrections(session, [CorrectionRecord(p, "roses") for p in to_train + to_eval])

    report = train(db, settings, data, FAST)  # defaults: verified labels included
    metrics = report.metrics
    assert (metrics["verified_train_images"], metrics["verified_eval_images"], report.left_out) == (3, 2, {})
    in_train, in_val = {str(i.path) for i in split.train}, {str(i.path) for i in split.val}
    assert metrics["train_images"] == 12 - len(in_train & set(to_eval)) + len(set(to_train) - in_train)
    assert metrics["val_images"] == 6 - len(in_val & set(to_train)) + len(set(to_eval) - in_val)
    # The evaluation images carry the verified labels: the 2 verified for evaluation count as roses.
    assert metrics["per_class"]["roses"]["support"] == 3 + 2
    assert metrics["per_class"]["daisy"]["support"] == 3 - len(in_val & set(to_train + to_eval))

    decision = report.promotion
    assert decision.previous_version_id == first.version_id
    assert decision.evaluated == metrics["val_images"], "both versions counted on the whole evaluation set"
    assert decision.candidate_correct is not None and decision.previous_correct is not None
    assert decision.promoted == (decision.candidate_correct > decision.previous_correct), decision.reason
    with db.transaction() as session:
        assert stored.active_version_id(session) == (report.version_id if decision.promoted else first.version_id)
    db.dispose()


def test_a_retrain_that_learns_the_same_is_not_promoted(tmp_path: Path) -> None:
    settings = load_settings()
    db = open_database(settings.database_url)
    data = tiny_dataset(tmp_path / "data", train_count=3, val_count=2)
    first = train(db, settings, data, FAST)
    again = train(db, settings, data, FAST)  # same inputs and seed: the same weights, so a tie
    decision = again.promotion
    assert decision.candidate_correct == decision.previous_correct and not decision.promoted, decision.reason
    with db.transaction() as session:
        assert stored.active_version_id(session) == first.version_id
    db.dispose()


def test_a_scheduled_retrain_on_unchanged_images_and_verified_labels_is_skipped(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    open_database(database_url, auto_upgrade=True).dispose()  # creates the tables, as `mobilabel db upgrade` does
    rt = WorkerRuntime(settings)
    app = create_app(settings)
    data = tiny_dataset(tmp_path / "data", train_count=3, val_count=2)
    monkeypatch.chdir(tmp_path)
    assert scheduled_retrain(rt, app, "data", relabel=False, owner="test") is not None
    with rt.db.transaction() as session:
        [run] = stored_runs.list_runs(session)
    assert (run.status, run.trigger, run.data_dir) == ("completed", "schedule", str(data)), "the folder stored absolute"

    with caplog.at_level(logging.INFO, logger="mobilabel.worker"):
        assert scheduled_retrain(rt, app, "data", relabel=False, owner="test") is None
    assert "scheduled retraining skipped" in caplog.text
    with rt.db.transaction() as session:
        assert len(stored_runs.list_runs(session)) == 1, "nothing trained, no run recorded"

    added = data / "train" / "daisy" / "new.jpg"
    added.symlink_to(flowers("train", "daisy", 1, skip=40)[0])
    assert not unchanged_since_last_run(rt.db, data, TrainingOptions()), "a new image is a change"
    added.unlink()
    assert unchanged_since_last_run(rt.db, data, TrainingOptions())
    with rt.db.transaction() as session:
        save_corrections(session, [CorrectionRecord(os.path.abspath(flowers("train", "tulips", 1)[0]), "roses")])
    assert not unchanged_since_last_run(rt.db, data, TrainingOptions()), "a new verified label is a change"
    rt.db.dispose()


def _train_in_a_worker_like_process(data: str, database_url: str, results: multiprocessing.Queue[dict[str, Any]]) -> None:
    """As a Celery prefork child trains: a daemon process (so no decode processes), on one core and one thread."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    torch.set_num_threads(1)
    settings = load_settings().model_copy(update={"database_url": database_url})
    db = open_database(database_url)
    report = train(db, settings, Path(data), FAST)
    db.dispose()
    results.put({"best_epoch": report.best_epoch, "epochs": report.metrics["epochs"]})


def test_the_same_options_and_seed_give_the_same_model_locally_and_in_a_worker_process(tmp_path: Path) -> None:
    settings = load_settings()
    data = tiny_dataset(tmp_path / "data", train_count=6, val_count=3)
    db = open_database(settings.database_url)
    local = train(db, settings, data, FAST)
    db.dispose()
    assert settings.decode_threads > 1 and torch.get_num_threads() > 1, "the local run decodes in processes, on several threads"
    # Spawned, not forked: a fork of this test process, whose torch threads are already running, may hang.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(
        target=_train_in_a_worker_like_process, args=(str(data), f"sqlite:///{tmp_path / 'worker.db'}", results), daemon=True
    )
    child.start()
    worker = results.get(timeout=300)
    child.join(timeout=60)
    assert worker["best_epoch"] == local.best_epoch
    for mine, theirs in zip(local.metrics["epochs"], worker["epochs"], strict=True):
        assert (mine["train_accuracy"], mine["val_accuracy"]) == (theirs["train_accuracy"], theirs["val_accuracy"])
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], abs=1e-4)
        # one thread against two rounds differently, and Adam's first steps (about lr in every weight
        # whatever the gradient's size) carry that into the weights: 2e-4 seen with colour jitter
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], abs=1e-3)
