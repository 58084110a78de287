"""The quick head: fitted on stored embeddings, it labels as a full forward pass of the same head does;
older quick versions' results are pruned; it runs by itself after MOBILABEL_REFRESH_EVERY answers;
a refusal of its gate is said by `review next` and the API."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.models import Classifier
from mobilabel.pipeline.labeller import Labeller
from mobilabel.storage import open_database
from mobilabel.storage.acceptance_queries import held_out_outcomes
from mobilabel.storage.tables import HeldOutPrediction, TrainingRun
from mobilabel.storage.tables import Result as ResultRow
from mobilabel.storage.versions import QUICK_PREFIX
from mobilabel.training.quick import quick_refresh
from mobilabel.versions.checkpoints import load_version
from tests.api_support import ClientFactory, api  # noqa: F401
from tests.conftest import FLOWERS

CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def library(tmp_path: Path, per_class: int) -> Path:
    """``per_class`` validation photos of each class in one unsorted folder, named after their class."""
    folder = tmp_path / "unsorted"
    folder.mkdir()
    for name in CLASSES:
        for path in sorted((FLOWERS / "val" / name).glob("*.jpg"))[:per_class]:
            shutil.copy(path, folder / f"{name}-{path.name}")
    return folder


def answer(tmp_path: Path, paths: list[Path], name: str = "answers.csv") -> Result:
    """Answer each of ``paths`` with its true class (the start of its name), as `correct --csv`."""
    file = tmp_path / name
    with file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["image_path", "label"])
        writer.writerows([str(p), p.name.split("-")[0]] for p in paths)
    return run("correct", "--csv", str(file))


def labelled(tmp_path: Path, database_url: str, per_class: int, answered: int) -> tuple[Path, list[Path]]:
    if not database_url.startswith("sqlite"):
        assert run("db", "upgrade").exit_code == 0
    folder = library(tmp_path, per_class)
    assert run("label", str(folder)).exit_code == 0
    for name in CLASSES:
        assert run("classes", "add", name).exit_code == 0
    photos = sorted(folder.iterdir())
    chosen = [p for name in CLASSES for p in [q for q in photos if q.name.startswith(name)][:answered]]
    return folder, chosen


def test_a_quick_head_labels_the_library_as_a_full_forward_pass_of_the_same_head(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_REFRESH_EVERY", "0")
    folder, chosen = labelled(tmp_path, database_url, per_class=8, answered=5)
    assert answer(tmp_path, chosen).exit_code == 0
    quick = run("train", "--quick")
    assert quick.exit_code == 0, quick.output
    assert "promoted" in quick.output and "relabelled 40 images from their embeddings" in quick.output

    settings = load_settings()
    db = open_database(settings.database_url)
    with db.transaction() as session:
        version_id = session.scalar(select(ResultRow.model_version_id).where(ResultRow.is_current).limit(1))
        stored = dict(session.execute(select(ResultRow.image_path, ResultRow.label).where(ResultRow.is_current)).all())
    assert version_id is not None and version_id.startswith(QUICK_PREFIX)
    assert set(stored.values()) <= set(CLASSES)
    # The version's checkpoint (the backbone with the new head), run on the photos as `label` runs it.
    classifier = Classifier.load(load_version(db, settings, version_id), device="cpu")
    records = [r for batch in Labeller(classifier).label(sorted(folder.iterdir())) for r in batch.records]
    assert {r.image_path: r.label for r in records} == stored
    right = sum(label == Path(path).name.split("-")[0] for path, label in stored.items())
    assert right >= 30, f"{right} of 40 right after 25 answers"

    # Calibrated on its held-out predictions, and labels with the temperature as the full forward pass does.
    calibration = load_version(db, settings, version_id).metrics["calibration"]
    assert calibration["images"] == 25 and calibration["temperature"] != 1.0
    with db.transaction() as session:
        confidences = dict(session.execute(select(ResultRow.image_path, ResultRow.confidence).where(ResultRow.is_current)).all())
        held = session.execute(select(HeldOutPrediction).where(HeldOutPrediction.version_id == version_id)).scalars().all()
    assert all(abs((confidences[r.image_path] or 0) - (r.confidence or 0)) < 0.01 for r in records)
    # Every answer it trained on is held-out evidence for `accept`, by its out-of-fold prediction.
    assert len(held) == 25 and all(0 < h.confidence <= 1 for h in held)
    assert run("accept", "--precision", "0.5", "--dry-run").exit_code == 0
    with db.transaction() as session:
        assert len(held_out_outcomes(session, version_id)) == 25


def test_pruning_keeps_the_active_quick_version_and_its_predecessor(tmp_path: Path, database_url: str) -> None:
    _, chosen = labelled(tmp_path, database_url, per_class=6, answered=5)
    assert answer(tmp_path, chosen).exit_code == 0
    settings = load_settings()
    db = open_database(settings.database_url)
    versions = [quick_refresh(db, settings, force=True) for _ in range(3)]
    assert all(v.promoted and v.relabelled == 30 for v in versions)
    with db.transaction() as session:
        rows = dict(session.execute(select(ResultRow.model_version_id, func.count()).group_by(ResultRow.model_version_id)).all())
    first, second, third = (v.version_id for v in versions)
    assert first not in rows, "older than the active version's predecessor: pruned"
    assert rows[second] == rows[third] == 30
    assert versions[2].pruned == 30
    assert sum(n for v, n in rows.items() if not v.startswith(QUICK_PREFIX)) == 30, "the ImageNet labels are no quick head's"


def test_every_n_answers_a_quick_head_updates_the_suggestions_and_a_refusal_is_said(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    api: ClientFactory,  # noqa: F811
) -> None:
    monkeypatch.setenv("MOBILABEL_REFRESH_EVERY", "10")
    _, chosen = labelled(tmp_path, database_url, per_class=6, answered=5)
    daisies, dandelions = chosen[:5], chosen[5:10]
    assert answer(tmp_path, [*daisies, *dandelions[:4]], "first.csv").exit_code == 0
    settings = load_settings()
    db = open_database(settings.database_url)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TrainingRun)) == 0, "9 answers: not yet"
    tenth = answer(tmp_path, dandelions[4:], "second.csv")
    assert "at least 10 answers since the last quick head" in tenth.output and "promoted" in tenth.output, tenth.output
    with db.transaction() as session:
        runs = session.execute(select(TrainingRun.trigger, TrainingRun.promoted)).all()
    assert runs == [("quick", True)]

    # The same answers again: no held-out answer to compare on (too few decide nothing) and no answer the active
    # head did not learn, so the gate keeps it, and says so.
    refused = api().post("/api/suggestions/refresh", json={}).json()
    assert refused["promoted"] is False and "no answer the active version did not" in refused["reason"], refused
    assert "too few held-out answers to tell the versions apart" in refused["reason"]
    leased = run("review", "next", "--count", "2")
    assert "the suggestions were not updated" in leased.output and "no answer the active version did not" in leased.output
    page = api().post("/api/review/next", json={"reviewer": "ann", "count": 1}).json()
    assert "no answer the active version did not" in page["refusal"]
    listed = run("runs", "--format", "csv")
    assert listed.exit_code == 0 and listed.output.count(",quick,") == 2, listed.output
    assert [r["trigger"] for r in api().get("/api/training-runs").json()] == ["quick", "quick"]


def test_a_fit_leaves_the_thread_count_of_every_other_thread_as_it_was() -> None:
    import threading

    import numpy as np
    import torch

    from mobilabel.training.quick import _fitting_thread, fit_head

    before = torch.get_num_threads()
    rng = np.random.default_rng(0)
    targets = np.arange(40) % 2
    vectors = (rng.random((40, 8)) + targets[:, None]).astype(np.float32)
    head = fit_head(vectors, targets, ["a", "b"])
    assert head.predict(vectors) == [["a", "b"][t] for t in targets]
    counts: list[int] = []
    fresh = threading.Thread(target=lambda: counts.append(int(torch.ones(2).sum()) and torch.get_num_threads()))
    fresh.start()
    fresh.join()
    assert torch.get_num_threads() == before and counts == [before], "the caller's and a new thread's count are unchanged"
    assert _fitting_thread().submit(torch.get_num_threads).result() == 1, "fits run on one thread"


def test_a_refresh_that_dies_before_activation_leaves_the_previous_suggestions(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mobilabel.storage.versions as stored_versions

    monkeypatch.setenv("MOBILABEL_REFRESH_EVERY", "0")
    _, chosen = labelled(tmp_path, database_url, per_class=6, answered=5)
    assert answer(tmp_path, chosen).exit_code == 0
    before = run("results", "--format", "csv").output
    settings = load_settings()
    db = open_database(settings.database_url)
    activate = stored_versions.activate_version

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process stopped after the new rows were written, before the switch

    monkeypatch.setattr(stored_versions, "activate_version", killed)
    with pytest.raises(KeyboardInterrupt):
        quick_refresh(db, settings)
    assert run("results", "--format", "csv").output == before, "every image keeps the suggestion it had"
    with db.transaction() as session:
        written = session.scalars(select(ResultRow.id).where(ResultRow.model_version_id.startswith("quick-"))).all()
    assert written == [], "the new rows and the switch to them commit together: the dead refresh left none"

    monkeypatch.setattr(stored_versions, "activate_version", activate)
    report = quick_refresh(db, settings)
    assert report.promoted and report.relabelled == 30 and report.pruned == 0
    after = run("results", "--format", "csv").output
    assert after != before and report.version_id[:8] in after
    with db.transaction() as session:
        current = session.scalars(select(ResultRow.model_version_id).where(ResultRow.is_current)).all()
    assert len(current) == 30 and set(current) == {report.version_id}
