"""Building a classifier and a labeller from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Settings, available_cores
from ..models.classifier import Classifier
from ..models.devices import default_batch_size, resolve_device, resolve_engine, torch_installed
from ..models.onnx_file import OnnxFileError
from ..storage import Database
from ..versions.checkpoints import ensure_onnx_file, load_version, save_onnx_file
from .labeller import Labeller, ModelSource

if TYPE_CHECKING:
    from ..models.checkpoint import Checkpoint


def load_classifier(
    settings: Settings, db: Database, model: str | Checkpoint, engine: str | None = None, device: str | None = None
) -> Classifier:
    """A classifier for ``model`` (a registered version's id, or a checkpoint) configured from settings;
    ``engine`` and ``device`` override them.

    On the CPU's ONNX engine it runs the version's stored ONNX file, exported first if this machine has
    none (``registry.ensure_onnx_file``): with an id and the file there, torch is never imported. Its
    engine runs each batch on one thread: the labeller runs several batches at once instead
    (``inference_lanes``). ``MOBILABEL_TTA=flip`` makes it label each image and its mirror.
    Raises ``registry.MissingOnnxError`` for a version with no ONNX file on an install without torch.
    """
    kind, device = resolve_engine(engine or settings.engine, device or settings.device)
    if kind == "onnx":
        version_id = model if isinstance(model, str) else model.version_id
        path = ensure_onnx_file(db, settings, model)
        try:
            return Classifier.from_onnx_file(path, version_id, settings.top_k, threads=1, tta=settings.tta)
        except OnnxFileError:
            if not torch_installed():
                raise
            # A damaged or foreign file: the checkpoint, checked by its sha256, exports it again.
            path = save_onnx_file(settings, load_version(db, settings, model) if isinstance(model, str) else model)
            return Classifier.from_onnx_file(path, version_id, settings.top_k, threads=1, tta=settings.tta)
    checkpoint = load_version(db, settings, model) if isinstance(model, str) else model
    return Classifier.load(checkpoint, engine=kind, device=device, top_k=settings.top_k, threads=1, tta=settings.tta)


def inference_lanes(settings: Settings, device: str | None = None) -> int:
    """Batches predicted at once: MOBILABEL_LANES, else a lane per core on the CPU, and on a
    GPU two, so that one batch's work on the host overlaps the other's on the device."""
    if settings.lanes:
        return settings.lanes
    return 2 if resolve_device(device or settings.device).startswith("cuda") else available_cores()


def build_labeller(
    settings: Settings, model: Classifier | ModelSource, batch_size: int | None = None, device: str | None = None
) -> Labeller:
    return Labeller(
        model,
        batch_size=batch_size or settings.batch_size or default_batch_size(device or settings.device),
        lanes=inference_lanes(settings, device),
        decode_threads=settings.decode_threads,
        max_pixels=settings.max_image_pixels,
        allowed_roots=settings.allowed_roots,
        decoder=settings.decoder,
        refine_margin=settings.refine_margin,
    )
