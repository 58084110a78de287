"""Training from answers alone (no DATA_DIR), the minimum per class, the answer overriding a folder label,
and the local run listed in `mobilabel runs` with progress lines in a pipe."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mobilabel.broker import create_app
from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.storage import open_database, versions
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.corrections import CURRENT, VerifiedLabel
from mobilabel.storage.trained_answers import record_trained
from mobilabel.training.data import MIN_ANSWERS, LabelledImage, add_corrections, answers_split, find_split
from mobilabel.training.errors import TrainingError
from mobilabel.training.promotion import unseen_by_active
from mobilabel.worker.runtime import WorkerRuntime
from mobilabel.worker.training_task import scheduled_retrain
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS
from tests.unit.training.test_training import tiny_dataset


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def answer(name: str, label: str, audit: bool = False, content_hash: str | None = None) -> VerifiedLabel:
    return VerifiedLabel(
        content_hash or name, f"/photos/{name}", label, f"/photos/{name}", CURRENT, datetime.now(UTC), "ann", audit
    )


def test_a_class_with_too_few_answers_stops_training_naming_it_and_its_count() -> None:
    answers = [answer(f"d{n}.jpg", "daisy") for n in range(6)] + [answer(f"r{n}.jpg", "roses") for n in range(3)]
    answers += [answer("o.jpg", "other"), answer("s.jpg", "skip")]
    with pytest.raises(
        TrainingError, match=r"too few answers to train: 'other' has 1 answer, 'roses' has 3 answers; each class needs at least 5"
    ):
        answers_split(answers, {"daisy", "roses", "other"})
    with pytest.raises(
        TrainingError, match=r"\(for other: answer more images other, or answer its images again with a class or skip\)$"
    ):
        answers_split(answers, {"daisy", "roses", "other"})  # other is reserved: neither merged nor retired
    with pytest.raises(TrainingError, match=r"needs two classes .* \(answers so far: 'daisy' 6\)"):
        answers_split(answers, {"daisy"})


def test_the_gate_leaves_out_the_answers_the_active_version_was_trained_on(database_url: str) -> None:
    # A quick head, fitted on every answer but the audits, was measured on its own answers by the gate of
    # the next `train`: 16 of 16 right, and the new version lost to it on images it had learnt.
    db = open_database(database_url, auto_upgrade=True)
    learnt, held, folder = (
        LabelledImage(Path("/photos/a.jpg"), 0),
        LabelledImage(Path("/photos/b.jpg"), 1),
        LabelledImage(Path("/data/c.jpg"), 0),
    )
    answers = [answer("a.jpg", "daisy", content_hash="ha"), answer("b.jpg", "roses", content_hash="hb")]
    assert unseen_by_active(db, [learnt, held, folder], answers) == [learnt, held, folder], "no active version"
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("quick-1", "mobilenet_v2", 1.0, ["daisy", "roses"], {}, b"w"))
        versions.activate_version(session, "quick-1")
        record_trained(session, "quick-1", ["ha"])
    assert unseen_by_active(db, [learnt, held, folder], answers) == [held, folder]
    db.dispose()


def test_answers_alone_split_with_audit_answers_always_held_out_and_every_class_on_both_sides() -> None:
    answers = [answer(f"d{n}.jpg", "daisy", audit=n < 2) for n in range(MIN_ANSWERS)]
    answers += [answer(f"o{n}.jpg", "other") for n in range(MIN_ANSWERS)]
    answers += [answer("s.jpg", "skip"), answer("t.jpg", "tulips")]  # skip: never trained; tulips: a retired class
    verified = answers_split(answers, {"daisy", "other"})
    split = verified.split
    assert split.classes == ["daisy", "other"]
    held_out = {image.path.name for image in split.val}
    assert {"d0.jpg", "d1.jpg"} <= held_out, "audit answers measure, never train"
    assert {i.label for i in split.train} == {i.label for i in split.val} == {0, 1}
    assert len(split.train) + len(split.val) == 2 * MIN_ANSWERS
    assert verified.left_out == {"/photos/t.jpg": "class 'tulips' is retired: not trained on"}


def test_an_answer_overrides_the_folder_label_of_the_same_content_wherever_the_file_lies(tmp_path: Path) -> None:
    split = find_split(tiny_dataset(tmp_path / "data", train_count=3, val_count=2))
    daisy = next(i for i in split.train if i.label == 0)
    copy = Path(shutil.copyfile(daisy.path, tmp_path / "elsewhere.jpg"))
    hashes = {str(i.path): f"h{n}" for n, i in enumerate(split.train + split.val)}
    moved = add_corrections(
        split,
        [VerifiedLabel(hashes[str(daisy.path)], str(copy), "roses", str(copy), CURRENT, datetime.now(UTC))],
        folder_hashes=hashes,
    )
    everything = moved.split.train + moved.split.val
    assert daisy not in everything, "the folder's label of that content is overridden"
    assert LabelledImage(copy, 1) in everything
    skipped = add_corrections(
        split,
        [VerifiedLabel(hashes[str(daisy.path)], str(copy), "skip", str(copy), CURRENT, datetime.now(UTC))],
        folder_hashes=hashes,
    )
    assert daisy not in skipped.split.train + skipped.split.val and skipped.left_out == {}, "not sure: not trained on at all"


def test_train_without_a_folder_learns_the_answers_and_is_listed_in_runs(tmp_path: Path, api: ClientFactory) -> None:
    unsorted = tmp_path / "unsorted"
    unsorted.mkdir()
    for label in ("daisy", "roses"):
        for n, source in enumerate(sorted((FLOWERS / "train" / label).glob("*.jpg"))[:MIN_ANSWERS]):
            photo = shutil.copyfile(source, unsorted / f"{label}-{n}.jpg")
            assert run("correct", str(photo), label, "--new-class").exit_code == 0
    few = shutil.copyfile(sorted((FLOWERS / "train" / "tulips").glob("*.jpg"))[0], unsorted / "t.jpg")
    assert run("correct", str(few), "tulips", "--new-class").exit_code == 0
    refused = run("train", "--epochs", "1")
    assert refused.exit_code == 1 and refused.output.strip().splitlines()[-1] == (
        "Error: too few answers to train: 'tulips' has 1 answer; each class needs at least 5 "
        "(a fifth is held out to measure it): answer more, or merge or retire the class"
    )
    assert run("train", "--epochs", "1", "--force").exit_code == 1, "--force does not bypass the minimum"
    assert run("classes", "retire", "tulips").exit_code == 0

    trained = run("train", "--epochs", "1", "--batch-size", "4")
    assert trained.exit_code == 0, trained.output
    assert "epoch 1/1 loss" in trained.output and "validation images)" in trained.output, "progress lines in a pipe"
    assert "is now active, replacing the ImageNet weights" in trained.output
    assert "out-of-fold on the " in trained.output and "answers trained on: " in trained.output
    (version,) = json.loads(run("models", "--format", "json").output)
    assert version["classes"] == ["daisy", "roses"] and version["source"] == "trained on the answers"
    runs = json.loads(run("runs", "--format", "json").output)
    assert [(r["trigger"], r["status"], r["data_dir"], r["version_id"]) for r in runs] == [
        ("local", "completed", "(answers)", version["id"]), ("local", "failed", "(answers)", None), ("local", "failed", "(answers)", None),
    ]  # fmt: skip
    assert runs[0]["progress"].startswith("epoch 1/1 val")
    matrix = api().get(f"/api/models/{version['id']}/confusion").json()
    assert matrix["trained_on"] == version["metrics"]["verified_train_images"] > 0, "the answers it trained on are recorded"
    # Not labelled yet: the only held-out figures are the trained-on answers' out-of-fold labels (k-fold).
    out_of_fold = version["metrics"]["out_of_fold"]
    assert matrix["images"] == matrix["out_of_fold"] == out_of_fold["answers"] > 0
    assert out_of_fold["k"] == 5 and matrix["correct"] == out_of_fold["right"] <= out_of_fold["answers"]
    assert matrix["out_of_fold"] <= matrix["trained_on"]


def test_audit_answers_are_held_out_beside_a_folder_too(tmp_path: Path) -> None:
    split = find_split(tiny_dataset(tmp_path / "data", train_count=3, val_count=2))
    outside = sorted((FLOWERS / "train" / "roses").glob("*.jpg"))[10:30]
    answers = [VerifiedLabel(p.name, str(p), "roses", str(p), CURRENT, datetime.now(UTC), "ann", True) for p in outside]
    verified = add_corrections(split, answers)
    assert verified.evaluated == len(outside) and verified.trained == 0, "no audit answer is trained on"


def test_a_run_started_through_the_api_without_a_folder_trains_on_the_answers(api: ClientFactory) -> None:
    client = api()
    started = client.post("/api/training-runs", json={"epochs": 1})
    assert started.status_code == 202 and started.json()["data_dir"] is None, started.text
    client.app.state.runner.wait_idle(timeout=300)  # type: ignore[attr-defined]
    run = client.get(f"/api/training-runs/{started.json()['id']}").json()
    assert run["status"] == "failed" and "training on answers alone needs two classes" in run["error"], run


def test_the_schedule_without_a_folder_trains_on_the_answers(database_url: str) -> None:
    settings = load_settings()
    open_database(database_url, auto_upgrade=True).dispose()
    runtime = WorkerRuntime(settings)
    assert scheduled_retrain(runtime, create_app(settings), None, relabel=False, owner="test") is None
    with runtime.db.transaction() as session:
        [recorded] = stored_runs.list_runs(session)
    runtime.db.dispose()
    assert (recorded.trigger, recorded.data_dir, recorded.status) == ("schedule", None, "failed")
    assert "training on answers alone needs two classes" in (recorded.error or "")
