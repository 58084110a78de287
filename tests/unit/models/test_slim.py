"""Slim CPU labelling: a version's stored ONNX file labels as the torch path does, and without torch."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from mobilabel.config import load_settings
from mobilabel.models import Checkpoint, Classifier, devices
from mobilabel.models.devices import DeviceError, resolve_device
from mobilabel.models.onnx_file import OnnxFileError, onnx_path
from mobilabel.models.preprocessing import Preprocessing, TorchResizeCrop
from mobilabel.pipeline.build import load_classifier
from mobilabel.pipeline.labeller import Labeller
from mobilabel.storage import open_database
from mobilabel.versions import checkpoints as registry
from mobilabel.versions.checkpoints import (
    MissingOnnxError,
    NoModelError,
    ensure_onnx_file,
    register_checkpoint,
    resolve_checkpoint,
    resolve_model,
    save_onnx_file,
)
from tests.conftest import IMAGENET_WEIGHTS, REPO

# Left out of a slim worker: torch and what exports ONNX, and the kNN index, which only the server's
# curation queries use (mobilabel.curation.neighbours; a worker never searches).
TORCH_ONLY = {"torch", "torchvision", "onnx"}
NOT_IN_SLIM = TORCH_ONLY | {"faiss-cpu"}


def test_the_slim_requirements_are_the_dependencies_less_torch() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    slim = [line for line in (REPO / "requirements" / "slim.txt").read_text().splitlines() if line and not line.startswith("#")]
    kept = [d for d in dependencies if re.split(r"[\[<>=!~ ]", d)[0] not in NOT_IN_SLIM]
    assert sorted(slim) == sorted(kept)


@pytest.mark.parametrize("size", [(500, 375), (375, 500), (256, 256), (300, 180), (100, 60), (224, 224)])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_the_pillow_crop_is_torchvisions_pixel_for_pixel(size: tuple[int, int], mode: str, val_images: list[Path]) -> None:
    # A photo cut to odd sizes, smaller than the crop among them (padded with black), and a grey one.
    image = Image.open(val_images[0]).convert(mode).resize(size)
    preprocessing = Preprocessing()
    reference = T.Compose([T.Resize(preprocessing.resize_size), T.CenterCrop(preprocessing.crop_size)])(image)
    expected = np.asarray(reference.convert("RGB"))
    assert np.array_equal(preprocessing.eval_pixels()(image), expected)


@pytest.mark.parametrize(
    "size", [(500, 375), (375, 500), (1200, 900), (2000, 600), (256, 400), (320, 240), (180, 240), (100, 80), (224, 224)]
)
def test_the_numpy_resize_is_torchvisions_tensor_kernel_pixel_for_pixel(size: tuple[int, int], val_images: list[Path]) -> None:
    # Down and up (antialiased bilinear in PyTorch's integer arithmetic), very wide, and smaller than the crop.
    image = Image.open(val_images[1]).convert("RGB").resize(size)
    preprocessing = Preprocessing()
    expected = preprocessing.eval_tensor_pixels()(torch.from_numpy(np.array(image)).permute(2, 0, 1)).numpy()
    assert np.array_equal(preprocessing.eval_array_pixels()(image), expected)
    # What the decode threads use where torch is installed: the numpy resize for the first images (``numpy_first``),
    # then torch's own kernel, on the image.
    assert isinstance(preprocessing.eval_thread_pixels(), TorchResizeCrop)
    thread_pixels = TorchResizeCrop(preprocessing.resize_size, preprocessing.crop_size, numpy_first=1)
    assert [np.array_equal(thread_pixels(image), expected) for _ in range(2)] == [True, True]  # numpy, then torch


def spread(images: list[Path], count: int) -> list[Path]:
    return images[:: max(1, len(images) // count)][:count]


@pytest.mark.parametrize("decoder", ["torchvision", "pillow"])
def test_a_stored_onnx_file_labels_as_the_torch_engine(decoder: str, val_images: list[Path]) -> None:
    settings = load_settings()
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    path = save_onnx_file(settings, checkpoint)
    assert path == onnx_path(settings.model_cache_dir, checkpoint.version_id)
    photos = spread(val_images, 40)

    def labels(classifier: Classifier) -> dict[str, tuple[str | None, dict[str, float]]]:
        found = {}
        for batch in Labeller(classifier, decoder=decoder, refine_margin=0).label(photos):
            for record in batch.records:
                found[record.image_path] = (record.label, {k["label"]: k["confidence"] for k in record.top_k or []})
        return found

    slim = Classifier.from_onnx_file(path, checkpoint.version_id, top_k=5)
    assert (slim.classes, slim.preprocessing) == (checkpoint.classes, checkpoint.preprocessing)
    reference, stored = labels(Classifier.load(checkpoint, engine="torch", device="cpu", top_k=5)), labels(slim)
    assert len(stored) == len(photos)
    for image, (label, top) in reference.items():
        assert stored[image][0] == label, image
        assert max(abs(p - stored[image][1].get(name, 0.0)) for name, p in top.items()) < 1e-4, image


def test_flip_augmentation_from_the_file_matches_the_torch_engine(val_images: list[Path]) -> None:
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    path = save_onnx_file(load_settings(), checkpoint)
    slim = Classifier.from_onnx_file(path, checkpoint.version_id, tta="flip")
    full = Classifier.load(checkpoint, engine="torch", device="cpu", tta="flip")
    pixels = [slim.pixels(Image.open(p)) for p in spread(val_images, 4)]
    for a, b in zip(slim.predict(slim.stack(pixels)), full.predict(full.stack(pixels)), strict=True):
        assert a.label == b.label and abs(a.confidence - b.confidence) < 1e-4


def test_another_versions_file_or_a_damaged_one_is_refused_in_one_line(tmp_path: Path) -> None:
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    path = save_onnx_file(load_settings(), checkpoint)
    with pytest.raises(OnnxFileError, match="holds model version imagenet-.*, not other"):
        Classifier.from_onnx_file(path, "other")
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(OnnxFileError, match="ONNX Runtime cannot load it"):
        Classifier.from_onnx_file(damaged, checkpoint.version_id)


def test_a_version_without_its_file_gets_one_exported_where_torch_is() -> None:
    settings = load_settings()
    db = open_database(settings.database_url)
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    register_checkpoint(db, checkpoint)
    path = ensure_onnx_file(db, settings, checkpoint.version_id)  # exported from the stored checkpoint
    assert Classifier.from_onnx_file(path, checkpoint.version_id).classes == checkpoint.classes


# Put first in a probe: torch, torchvision and onnx cannot be imported, as in a slim install (``torch_installed``
# says so too); importing one raises ImportError, which fails the probe.
AS_SLIM = f"import sys\nsys.modules.update(dict.fromkeys({sorted(TORCH_ONLY)!r}))\n"
# What a probe loaded of torch's packages, of the object store's (boto3 only for an s3:// path), of Alembic
# (only to migrate a database) and of rich (the progress bar and tables of other commands).
HEAVY = sorted(TORCH_ONLY | {"boto3", "botocore", "alembic", "rich"})
LOADED = f"sorted({{m.split('.')[0] for m, v in sys.modules.items() if v is not None}} & set({HEAVY!r}))"


def cli_probe(args: list[str], slim: bool = False) -> subprocess.CompletedProcess[str]:
    code = (
        f"{AS_SLIM if slim else ''}import sys\nfrom mobilabel.cli.main import cli\ntry:\n"
        f"    cli({args!r}, prog_name='mobilabel')\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        f"print('loaded:', {LOADED})"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_predict_of_a_local_photo_imports_neither_torch_nor_boto3_nor_alembic(
    val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_DEVICE", "cpu")  # on a GPU machine too: the CPU path is what is checked
    photo = str(val_images[0])
    first = cli_probe(["predict", photo, "--top-k", "3"])  # registers the ImageNet weights, exports the file
    assert first.returncode == 0, first.stderr
    assert "'torch'" in first.stdout
    again = cli_probe(["predict", photo, "--top-k", "3"], slim=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "loaded: []"
    assert again.stdout.splitlines()[0] == first.stdout.splitlines()[0]
    # Where torch is installed too, one photo is resized by numpy (importing torch for its faster kernel costs
    # more than it saves on a few images), a local photo needs no object-store client, and a database at the
    # newest migration no Alembic: the same output.
    full = cli_probe(["predict", photo, "--top-k", "3"])
    assert full.returncode == 0, full.stderr
    assert full.stdout.splitlines() == [first.stdout.splitlines()[0], "loaded: []"]


def test_a_worker_labels_from_the_file_without_importing_torch(val_images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_DEVICE", "cpu")
    settings = load_settings()
    version_id = resolve_checkpoint(open_database(settings.database_url), settings).version_id  # registers, exports
    assert onnx_path(settings.model_cache_dir, version_id).is_file()
    code = (
        f"{AS_SLIM}import mobilabel.worker.tasks\nfrom mobilabel.config import load_settings\n"
        "from mobilabel.worker.runtime import WorkerRuntime\nlabeller = WorkerRuntime(load_settings()).labeller()\n"
        f"records = [r for batch in labeller.label([{str(val_images[2])!r}]) for r in batch.records]\n"
        "print(records[0].status, labeller.classifier.version_id)\n"
        f"print({LOADED})"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"ok {version_id}", "[]"]


def test_without_torch_a_missing_file_a_gpu_or_a_checkpoint_file_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    db = open_database(settings.database_url)
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    register_checkpoint(db, checkpoint)
    for module in (registry, devices):
        monkeypatch.setattr(module, "torch_installed", lambda: False)
    with pytest.raises(
        MissingOnnxError, match=f"model version {checkpoint.version_id} has no ONNX file at .*no torch to export one"
    ):
        load_classifier(settings, db, checkpoint.version_id, device="cpu")
    with pytest.raises(DeviceError, match="this install has no PyTorch"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(
        NoModelError, match=f"--model {IMAGENET_WEIGHTS}: not a registered model version, and this install has no torch"
    ):
        resolve_model(db, settings, str(IMAGENET_WEIGHTS))
    assert resolve_model(db, settings) == checkpoint.version_id  # MOBILABEL_PRETRAINED's weights, registered: by their hash


def test_a_damaged_file_is_exported_again_where_torch_is(val_images: list[Path]) -> None:
    settings = load_settings()
    db = open_database(settings.database_url)
    version_id = resolve_checkpoint(db, settings).version_id
    path = onnx_path(settings.model_cache_dir, version_id)
    path.write_bytes(b"not an ONNX graph")
    classifier = load_classifier(settings, db, version_id, engine="onnx", device="cpu")
    assert classifier.version_id == version_id and path.stat().st_size > 1_000_000
    assert classifier.predict(classifier.stack([classifier.pixels(Image.open(val_images[0]))]))[0].label
