"""Checkpoints: one file enough to label with, loaded with weights_only=True."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mobilabel.imaging import read_rgb
from mobilabel.models import IMAGENET_CATEGORIES, Checkpoint, CheckpointError, Preprocessing, build_model
from tests.conftest import IMAGENET_WEIGHTS


def real_batch(paths: list[Path], preprocessing: Preprocessing) -> torch.Tensor:
    transform = preprocessing.eval_transform()
    return torch.stack([transform(read_rgb(p, 10**8)) for p in paths])


@pytest.mark.parametrize("arch, alpha", [("mobilenet_v2", 1.0), ("mobilenet_v1", 0.5)])
def test_round_trip_gives_identical_logits(tmp_path: Path, val_images: list[Path], arch: str, alpha: float) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 5, alpha).eval()
    classes = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    checkpoint = Checkpoint.from_model(model, arch, alpha, classes, Preprocessing(), metrics={"val_accuracy": 0.5})
    checkpoint.save(tmp_path / "model.pt")

    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    assert raw["class_indices"] == {"0": "daisy", "1": "dandelion", "2": "roses", "3": "sunflowers", "4": "tulips"}

    loaded = Checkpoint.load(tmp_path / "model.pt")
    assert (loaded.arch, loaded.alpha, loaded.classes) == (arch, alpha, classes)
    assert loaded.metrics == {"val_accuracy": 0.5}
    assert loaded.version_id == checkpoint.version_id and loaded.created_at == checkpoint.created_at
    assert loaded.preprocessing == Preprocessing()
    batch = real_batch(val_images[:4], loaded.preprocessing)
    with torch.inference_mode():
        assert torch.equal(model(batch), loaded.build()(batch))


def test_torchvision_state_dict_loads_with_imagenet_categories() -> None:
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    assert checkpoint.arch == "mobilenet_v2" and checkpoint.alpha == 1.0
    assert checkpoint.classes == IMAGENET_CATEGORIES and len(checkpoint.classes) == 1000
    assert checkpoint.version_id.startswith("imagenet-")
    assert Checkpoint.load(IMAGENET_WEIGHTS).version_id == checkpoint.version_id, "same file, same version"


def test_imagenet_weights_recognise_a_daisy() -> None:
    from tests.conftest import FLOWERS

    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    daisies = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[:10]
    with torch.inference_mode():
        labels = checkpoint.build()(real_batch(daisies, checkpoint.preprocessing)).argmax(1).tolist()
    assert sum(checkpoint.classes[i] == "daisy" for i in labels) >= 5


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch weights file"):
        Checkpoint.load(tmp_path / "notes.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="neither a mobilabel checkpoint"):
        Checkpoint.load(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        Checkpoint.load(tmp_path / "missing.pt")


class Payload:
    """Any class: loading it would mean running pickle's code paths."""


def test_a_pickled_object_is_refused(tmp_path: Path) -> None:
    torch.save({"payload": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        Checkpoint.load(tmp_path / "evil.pt")


def test_the_backbone_fingerprint_follows_the_feature_layers_only() -> None:
    """A new head keeps the stored embeddings (same fingerprint); a changed feature layer does not."""
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    before = checkpoint.backbone
    checkpoint.state_dict["classifier.1.weight"] = torch.zeros_like(checkpoint.state_dict["classifier.1.weight"])
    assert checkpoint.backbone == before
    checkpoint.state_dict["features.0.0.weight"] = checkpoint.state_dict["features.0.0.weight"] * 2
    assert checkpoint.backbone != before and len(checkpoint.backbone) == 64
