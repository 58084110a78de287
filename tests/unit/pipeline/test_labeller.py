"""The pipeline: batching and engines change nothing but speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilabel.models import Checkpoint, Classifier
from mobilabel.pipeline.labeller import Labeller
from tests.conftest import IMAGENET_WEIGHTS


@pytest.fixture(scope="module")
def imagenet() -> Checkpoint:
    return Checkpoint.load(IMAGENET_WEIGHTS)


def outcomes(labeller: Labeller, paths: list[Path]) -> dict[str, tuple[str | None, float | None]]:
    return {r.image_path: (r.label, r.confidence) for batch in labeller.label(paths) for r in batch.records}


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_batched_inference_matches_one_image_at_a_time(imagenet: Checkpoint, val_images: list[Path], engine: str) -> None:
    classifier = Classifier.load(imagenet, engine=engine, device="cpu")
    paths = val_images[::4]
    batched = outcomes(Labeller(classifier, batch_size=16), paths)
    single = outcomes(Labeller(classifier, batch_size=1, decode_threads=1), paths)
    assert batched.keys() == single.keys() and len(batched) == len(paths)
    for path, (label, confidence) in single.items():
        assert batched[path][0] == label, path
        assert batched[path][1] == pytest.approx(confidence, abs=1e-4), path


def test_onnx_engine_gives_the_labels_of_pytorch_eager(imagenet: Checkpoint, val_images: list[Path]) -> None:
    onnx = outcomes(Labeller(Classifier.load(imagenet, engine="onnx", device="cpu")), val_images)
    eager = outcomes(Labeller(Classifier.load(imagenet, engine="torch", device="cpu")), val_images)
    assert {p: v[0] for p, v in onnx.items()} == {p: v[0] for p, v in eager.items()}
    assert max(abs(onnx[p][1] - eager[p][1]) for p in onnx) < 1e-4  # type: ignore[operator]


def test_results_keep_input_order_and_top_k(imagenet: Checkpoint, val_images: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"")
    paths = [val_images[0], broken, val_images[1]]
    records = [r for batch in Labeller(Classifier.load(imagenet, top_k=3), batch_size=2).label(paths) for r in batch.records]
    assert [r.image_path for r in records] == [str(p) for p in paths]
    assert [r.status for r in records] == ["ok", "failed", "ok"]
    assert records[1].error == "empty file (0 bytes)"
    top = records[0].top_k
    assert top is not None and len(top) == 3 and top[0]["label"] == records[0].label
    assert top[0]["confidence"] >= top[1]["confidence"] >= top[2]["confidence"]


def test_paths_outside_the_allowed_roots_are_never_opened(imagenet: Checkpoint, val_images: list[Path], tmp_path: Path) -> None:
    inside = tmp_path / "allowed"
    inside.mkdir()
    (inside / "escape.jpg").symlink_to(val_images[0])
    labeller = Labeller(Classifier.load(imagenet), allowed_roots=[inside.resolve()])
    paths = [inside / "escape.jpg", inside / ".." / "outside.jpg", val_images[0]]
    records = [r for batch in labeller.label(paths) for r in batch.records]
    assert [r.status for r in records] == ["failed", "failed", "failed"]
    assert all("outside the allowed roots" in (r.error or "") for r in records)
