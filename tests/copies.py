"""One inference per (content hash, model version), as a user meets it: copies in a folder, a renamed
copy labelled later, embedded and in a worker's chunk. Shared by the SQLite and PostgreSQL tests."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import torch

from mobilabel.config import load_settings
from mobilabel.models import Checkpoint, Classifier, Prediction
from mobilabel.pipeline.labeller import Labeller
from mobilabel.storage import chunks as stored_chunks
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.worker.chunk import process_chunk
from mobilabel.worker.runtime import WorkerRuntime
from tests.conftest import IMAGENET_WEIGHTS
from tests.incremental import label


def count_inferences(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by the number of images each forward pass of any classifier is given."""
    seen: list[int] = []
    predict = Classifier.predict

    def counting(self: Classifier, pixels: torch.Tensor) -> list[Prediction]:
        seen.append(len(pixels))
        return predict(self, pixels)

    monkeypatch.setattr(Classifier, "predict", counting)
    return seen


def stored(database_url: str) -> dict[str, tuple[str, str | None, float | None, object, str | None]]:
    """path -> (status, label, confidence, top_k, error) of every stored row."""
    db = open_database(database_url)
    with db.transaction() as session:
        rows = {
            r.image_path: (r.status, r.label, r.confidence, r.top_k, r.error)
            for r in query_results(session, ResultFilter(all_versions=True))
        }
    db.dispose()
    return rows


def run_copies_scenario(database_url: str, tmp_path: Path, photos: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """``photos``: at least 4 distinct photos; the database at ``database_url`` is migrated and empty."""
    originals = photos[:3]
    plain = {
        r.image_path: r
        for batch in Labeller(Classifier.load(Checkpoint.load(IMAGENET_WEIGHTS))).label(originals)
        for r in batch.records
    }
    folder = tmp_path / "photos"
    copies: dict[Path, Path] = {}  # copy -> its original
    for i in range(10):
        (folder / f"copy{i}").mkdir(parents=True)
        for photo in originals:
            copies[Path(shutil.copy2(photo, folder / f"copy{i}" / f"{i}_{photo.name}"))] = photo
    (folder / "broken1.jpg").write_bytes(b"not a photo")
    (folder / "broken2.jpg").write_bytes(b"not a photo")

    seen = count_inferences(monkeypatch)
    assert "32 images, 30 labelled, 2 failed, 0 skipped (unchanged)" in label(folder)
    assert sum(seen) == 3, f"one inference per content: {seen}"
    rows = stored(database_url)
    assert len(rows) == 32
    for copy, photo in copies.items():
        status, label_, confidence, top_k, _ = rows[str(copy)]
        expected = plain[str(photo)]
        assert (status, label_, top_k is not None) == ("ok", expected.label, True), copy
        assert confidence == pytest.approx(expected.confidence, abs=1e-5), copy
        assert [t["label"] for t in top_k] == [t["label"] for t in expected.top_k or []]  # type: ignore[attr-defined]
    assert rows[str(folder / "broken1.jpg")][0] == rows[str(folder / "broken2.jpg")][0] == "failed"
    assert rows[str(folder / "broken1.jpg")][4] == rows[str(folder / "broken2.jpg")][4]

    later = tmp_path / "later"
    later.mkdir()
    renamed = Path(shutil.copy(originals[0], later / "renamed.jpg"))  # a new path and a new modification time
    assert "1 image, 1 labelled, 0 failed, 0 skipped (unchanged)" in label(later)
    assert sum(seen) == 3, "a renamed copy of a labelled photo costs no inference"
    assert stored(database_url)[str(renamed)][:2] == ("ok", plain[str(originals[0])].label)
    assert "nothing new to label: 1 image unchanged" in label(later), "the copy's row has its own fingerprint"

    # A worker's chunk: a copy costs nothing, a new content one inference.
    runtime = WorkerRuntime(load_settings())
    again = Path(shutil.copy(originals[1], later / "again.jpg"))
    with runtime.db.transaction() as session:
        job = stored_jobs.create_job(session, str(later), None)
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [[str(again), str(photos[3])]], timedelta(seconds=60))
    assert process_chunk(runtime, chunk_id).done == 2
    runtime.db.dispose()
    assert sum(seen) == 4, f"only the new content was predicted: {seen}"
    assert stored(database_url)[str(again)][:2] == ("ok", plain[str(originals[1])].label)
