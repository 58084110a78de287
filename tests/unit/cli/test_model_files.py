"""`mobilabel models export | import`: an ONNX file that reproduces PyTorch's labels in ONNX Runtime
(and is refused when it would not), and a bundle that moves a version between databases keeping its
id and history. An ImageFolder export trains a model of the same classes."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner, Result

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.hashing import hash_file
from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Preprocessing, build_model, onnx_export
from mobilabel.storage import open_database
from mobilabel.storage import versions as stored
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.versions.checkpoints import register_checkpoint
from tests.conftest import FLOWERS, IMAGENET_WEIGHTS


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def register(checkpoint: Checkpoint, activate: bool = True) -> str:
    db = open_database(load_settings().database_url, auto_upgrade=True)
    version_id = register_checkpoint(db, checkpoint, activate=activate)
    db.dispose()
    return version_id


def test_the_onnx_file_reproduces_the_labels_in_onnx_runtime(tmp_path: Path) -> None:
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    version_id = register(checkpoint)
    output = tmp_path / "model.onnx"
    result = run(
        "models", "export", version_id, "--format", "onnx", "--output", str(output), "--check-images", str(FLOWERS / "val")
    )
    assert result.exit_code == 0, result.output
    assert "on 32 images" in result.output and "0 labels differ" in result.output

    # A runtime with only the file: classes and preprocessing from its metadata.
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    classes = json.loads(meta["mobilabel.classes"])
    preprocessing = Preprocessing.from_dict(json.loads(meta["mobilabel.preprocessing"]))
    assert (
        classes == checkpoint.classes and preprocessing == checkpoint.preprocessing and meta["mobilabel.version_id"] == version_id
    )
    photos = sorted((FLOWERS / "train").rglob("*.jpg"))[::60]
    batch = torch.stack([preprocessing.eval_transform()(read_rgb(p, 10**8)) for p in photos])
    onnx_labels = [classes[i] for i in session.run(None, {"images": batch.numpy()})[0].argmax(1)]
    with torch.inference_mode():
        torch_labels = [checkpoint.classes[i] for i in checkpoint.build()(batch).argmax(1).tolist()]
    assert onnx_labels == torch_labels and len(set(torch_labels)) > 1


def test_an_onnx_file_that_differs_from_pytorch_is_not_written_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = Checkpoint.from_model(
        build_model("mobilenet_v2", 2, 0.35), "mobilenet_v2", 0.35, ["daisy", "roses"], Preprocessing()
    )
    version_id = register(checkpoint)
    db = open_database(load_settings().database_url)
    photos = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[:4]
    with db.transaction() as session:  # the images it checks on by default: those the version labelled
        write_results(
            session,
            [ResultRecord(str(p), "1:1", ResultStatus.OK, "daisy", 0.9, content_hash=hash_file(p)) for p in photos],
            version_id,
            None,
        )
    db.dispose()
    exact = run("models", "export", "active", "--format", "onnx", "--output", str(tmp_path / "ok.onnx"))
    assert exact.exit_code == 0 and "on 4 images" in exact.output, exact.output
    original = onnx_export.export_onnx

    def drifted(model: torch.nn.Module, example: torch.Tensor) -> bytes:
        with torch.no_grad():
            model.get_submodule("network.classifier")[-1].bias.add_(0.01)  # type: ignore[index, union-attr, operator]
        return original(model, example)

    monkeypatch.setattr(onnx_export, "export_onnx", drifted)
    refused = run("models", "export", version_id, "--format", "onnx", "--output", str(tmp_path / "bad.onnx"))
    assert refused.exit_code == 1 and "not written: largest logit difference" in refused.output
    assert not (tmp_path / "bad.onnx").exists()


def small_version(tmp_path: Path) -> tuple[str, Checkpoint]:
    """A 2-class version with metrics and a report PNG in the model cache, activated twice over another."""
    checkpoint = Checkpoint.from_model(
        build_model("mobilenet_v2", 2, 0.35),
        "mobilenet_v2",
        0.35,
        ["daisy", "roses"],
        Preprocessing(),
        metrics={"val_accuracy": 0.75, "epochs": [{"epoch": 1, "val_accuracy": 0.75}]},
        source="trained on /data/flowers",
    )
    other = Checkpoint.from_model(build_model("mobilenet_v2", 2, 0.35), "mobilenet_v2", 0.35, ["daisy", "roses"], Preprocessing())
    register(checkpoint)
    register(other)
    register(checkpoint)
    cache = load_settings().model_cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{checkpoint.version_id}.png").write_bytes(b"\x89PNG report")
    return checkpoint.version_id, checkpoint


def test_a_bundle_moves_a_version_to_another_database_keeping_its_id_and_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version_id, _ = small_version(tmp_path)
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        source = stored.get_version(session, version_id)
        assert source is not None
        before = (source.classes, source.metrics, source.source, source.created_at, source.sha256)
    db.dispose()
    bundle = tmp_path / "v.zip"
    result = run("models", "export", version_id[:6], "--output", str(bundle))
    assert result.exit_code == 0 and "(checkpoint and report)" in result.output, result.output
    record = json.loads(zipfile.ZipFile(bundle).read("bundle.json"))
    assert [a["reason"] for a in record["activations"]] == ["activated", "activated"]

    monkeypatch.setenv("MOBILABEL_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("MOBILABEL_HOME", str(tmp_path / "other-home"))
    assert run("db", "upgrade").exit_code == 0
    imported = run("models", "import", str(bundle), "--activate")
    assert imported.exit_code == 0 and f"imported model version {version_id} (2 classes); now active" in imported.output, (
        imported.output
    )
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        copy = stored.get_version(session, version_id)
        assert copy is not None and copy.active
        assert (copy.classes, copy.metrics, copy.source, copy.created_at, copy.sha256) == before
    db.dispose()
    assert (load_settings().model_cache_dir / f"{version_id}.png").read_bytes() == b"\x89PNG report"
    again = run("models", "import", str(bundle))
    assert again.exit_code == 0 and "already here" in again.output


def test_a_damaged_bundle_or_one_clashing_with_another_version_imports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version_id, checkpoint = small_version(tmp_path)
    bundle = tmp_path / "v.zip"
    assert run("models", "export", version_id, "--output", str(bundle)).exit_code == 0
    with zipfile.ZipFile(bundle) as original, zipfile.ZipFile(tmp_path / "damaged.zip", "w") as damaged:
        damaged.writestr("bundle.json", original.read("bundle.json"))
        damaged.writestr("checkpoint.pt", original.read("checkpoint.pt")[:-10])
    result = run("models", "import", str(tmp_path / "damaged.zip"))
    assert result.exit_code == 1 and result.output.startswith("Error:") and "does not match the sha256" in result.output
    (tmp_path / "notzip.zip").write_bytes(b"not a zip")
    assert "Error: cannot read" in run("models", "import", str(tmp_path / "notzip.zip")).output

    monkeypatch.setenv("MOBILABEL_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    impostor = Checkpoint.from_model(
        build_model("mobilenet_v2", 2, 0.35), "mobilenet_v2", 0.35, ["daisy", "roses"], Preprocessing()
    )
    impostor.version_id = version_id
    register(impostor)
    clash = run("models", "import", str(bundle))
    assert clash.exit_code == 1 and "another model version" in clash.output and "nothing imported" in clash.output


def test_an_imagefolder_export_trains_a_model_of_the_same_classes(tmp_path: Path) -> None:
    classes = ["daisy", "roses", "tulips"]
    photos = {name: sorted((FLOWERS / "train" / name).glob("*.jpg"))[:5] for name in classes}
    version_id = register(
        Checkpoint.from_model(build_model("mobilenet_v2", 3, 0.35), "mobilenet_v2", 0.35, classes, Preprocessing())
    )
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        records = [
            ResultRecord(str(p), "1:1", ResultStatus.OK, name, 0.9, content_hash=hash_file(p))
            for name in classes
            for p in photos[name]
        ]
        write_results(session, records, version_id, None)
    db.dispose()
    out = tmp_path / "folders"
    assert run("export", str(out), "--review-state", "suggested").exit_code == 0
    assert sorted(os.listdir(out)) == sorted([*classes, "manifest.csv"])
    trained = run(
        "train", str(out), "--epochs", "2", "--unfreeze-last", "0", "--batch-size", "8", "--val-fraction", "0.4", "--force"
    )
    assert trained.exit_code == 0, trained.output
    versions = json.loads(run("models", "--format", "json").output)
    assert versions[0]["id"] != version_id and versions[0]["classes"] == classes
    assert versions[0]["train_images"] + versions[0]["val_images"] == 15
    assert np.isfinite(versions[0]["val_accuracy"])
