"""One inference per (content hash, model version) on SQLite; the labeller when the version changes mid-way."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import torch

from mobilabel.models import Checkpoint, Classifier, Preprocessing, build_model
from mobilabel.pipeline.labeller import Labeller
from mobilabel.storage import open_database
from mobilabel.storage.results import ResultRecord
from mobilabel.storage.states import ResultStatus
from tests.conftest import IMAGENET_WEIGHTS
from tests.copies import count_inferences, run_copies_scenario


def test_copies_cost_one_inference_per_content(tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url = os.environ["MOBILABEL_DATABASE_URL"]
    open_database(url).dispose()
    run_copies_scenario(url, tmp_path, val_images, monkeypatch)


def test_results_known_for_another_version_are_not_copied(
    tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version that takes over after a batch was read labels the contents the old one knew, itself."""
    imagenet = Classifier.load(Checkpoint.load(IMAGENET_WEIGHTS))
    torch.manual_seed(0)
    small = build_model("mobilenet_v2", 5, 0.35).eval()
    other = Classifier.load(Checkpoint.from_model(small, "mobilenet_v2", 0.35, list("abcde"), Preprocessing(), metrics={}))
    paths = [Path(shutil.copy(p, tmp_path / f"{i}.jpg")) for i, p in enumerate(val_images[:3] * 2)]
    asked: list[str] = []

    def known(content_hashes: Sequence[str], version_id: str) -> Mapping[str, ResultRecord]:
        asked.append(version_id)
        return {
            h: ResultRecord("/elsewhere.jpg", "1:1", ResultStatus.OK, "stored", 0.5, [], content_hash=h) for h in content_hashes
        }

    calls = iter([imagenet, imagenet])  # the batch is read for imagenet, then ``other`` takes over
    seen = count_inferences(monkeypatch)
    (batch,) = Labeller(lambda: next(calls, other), batch_size=8).label(paths, known)
    assert asked == [imagenet.version_id]
    assert batch.model_version_id == other.version_id and sum(seen) == 3
    assert {r.label for r in batch.records} <= set("abcde") and all(r.status == ResultStatus.OK for r in batch.records)
    assert [r.image_path for r in batch.records] == [str(p) for p in paths]
    assert [r.label for r in batch.records[:3]] == [r.label for r in batch.records[3:]]

    seen.clear()
    (batch,) = Labeller(imagenet, batch_size=8).label(paths, known)
    assert sum(seen) == 0 and [r.label for r in batch.records] == ["stored"] * 6
    assert [(r.image_path, r.content_id) for r in batch.records] == [
        (str(p), f"{p.stat().st_size}:{p.stat().st_mtime_ns}") for p in paths
    ]


def test_copies_in_the_next_batches_of_a_run_are_not_predicted_again(
    tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 4 over 10 copies of 3 photos: the copies in later batches (read before any was written) copy the first."""
    imagenet = Classifier.load(Checkpoint.load(IMAGENET_WEIGHTS))
    paths = [Path(shutil.copy(p, tmp_path / f"{i}.jpg")) for i, p in enumerate(val_images[:3] * 10)]
    seen = count_inferences(monkeypatch)
    records = [r for batch in Labeller(imagenet, batch_size=4, lanes=2).label(paths) for r in batch.records]
    assert sum(seen) == 3, seen
    assert [r.image_path for r in records] == [str(p) for p in paths]
    assert [(r.label, r.confidence) for r in records] == [(r.label, r.confidence) for r in records[:3]] * 10
