"""Building a classifier and a labeller from settings."""

from __future__ import annotations

from ..config import Settings
from ..models import Checkpoint, Classifier, default_batch_size
from .labeller import Labeller, ModelSource


def load_classifier(
    settings: Settings, checkpoint: Checkpoint, engine: str | None = None, device: str | None = None, threads: int | None = None
) -> Classifier:
    """A classifier configured from settings; ``engine``/``device``/``threads`` override them."""
    return Classifier.load(
        checkpoint,
        engine=engine or settings.engine,
        device=device or settings.device,
        top_k=settings.top_k,
        threads=threads or settings.threads or None,
    )


def build_labeller(
    settings: Settings, model: Classifier | ModelSource, batch_size: int | None = None, device: str | None = None
) -> Labeller:
    return Labeller(
        model,
        batch_size=batch_size or settings.batch_size or default_batch_size(device or settings.device),
        decode_threads=settings.decode_threads,
        max_pixels=settings.max_image_pixels,
        allowed_roots=settings.allowed_roots,
        decoder=settings.decoder,
    )
