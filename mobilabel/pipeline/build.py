"""Building a classifier and a labeller from settings."""

from __future__ import annotations

from ..config import Settings, available_cores
from ..models import Checkpoint, Classifier, default_batch_size, resolve_device
from .labeller import Labeller, ModelSource


def load_classifier(
    settings: Settings, checkpoint: Checkpoint, engine: str | None = None, device: str | None = None
) -> Classifier:
    """A classifier configured from settings; ``engine`` and ``device`` override them.

    Its engine runs each batch on one thread: the labeller runs several batches at once
    instead (``inference_lanes``). ``MOBILABEL_TTA=flip`` makes it label each image and its mirror.
    """
    return Classifier.load(
        checkpoint,
        engine=engine or settings.engine,
        device=device or settings.device,
        top_k=settings.top_k,
        threads=1,
        tta=settings.tta,
    )


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
