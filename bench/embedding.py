"""Embeddings of photos for the curation benches: the ImageNet MobileNetV2's pooled features (1,280 floats),
computed with the project's model code (the checkpoint's validation transform, its backbone, the global
average pool), and cached under bench/data/ so the benches share one forward pass."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from mobilabel.models import Checkpoint
from mobilabel.models.architectures import backbone

from .paths import DATA, FLOWERS, WEIGHTS


def flower_photos() -> tuple[list[Path], list[str]]:
    """The shared flowers (train and val pooled), sorted, with their folder labels."""
    photos = sorted(FLOWERS.glob("*/*/*.jpg"))
    return photos, [p.parent.name for p in photos]


def embed_images(images: list[Image.Image], batch: int = 32) -> npt.NDArray[np.float32]:
    """Pooled backbone features of RGB images, (N, 1280) float32."""
    checkpoint = Checkpoint.load(WEIGHTS)
    features = backbone(checkpoint.build())
    transform = checkpoint.preprocessing.eval_transform()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            tensors = torch.stack([transform(image.convert("RGB")) for image in images[start : start + batch]])
            out.append(features(tensors).mean(dim=(2, 3)).numpy())
    return np.concatenate(out).astype(np.float32)


def cached_embeddings(name: str, paths: list[Path]) -> npt.NDArray[np.float32]:
    """``embed_images`` of the files at ``paths``, cached in bench/data/<name>-<hash of the paths>.npy."""
    key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    cache = DATA / f"{name}-{key}.npy"
    if cache.exists():
        return np.load(cache)
    embeddings = embed_images([Image.open(p) for p in paths])
    DATA.mkdir(parents=True, exist_ok=True)
    np.save(cache, embeddings)
    return embeddings


def flower_embeddings() -> tuple[npt.NDArray[np.float32], list[str]]:
    """(609, 1280) embeddings of the shared flowers and their folder labels."""
    photos, labels = flower_photos()
    return cached_embeddings("flowers", photos), labels
