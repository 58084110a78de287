"""Phone-size photos (issue 13): decoding cost, agreement with a full decode, and `mobilabel label`'s memory.

    python -m bench.phone [--count 24]

Makes ``--count`` phone-size photos from the shared flowers (evenly chosen, upscaled to
4032x3024 with mild noise, JPEG quality 90, every fourth stored on its side with EXIF
orientation 6; kept in bench/data/phone_N) and prints, for today's full-size Pillow decode
and for every decoder: ms per image from file to model input (one thread), top-1 agreement
with the full decode (ImageNet classes; each miss listed with the full decode's top two),
the largest confidence difference, and `mobilabel label` on the folder: wall seconds (with
start-up) and peak RSS. Rows go to bench/results/phone_<count>.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Classifier
from mobilabel.pipeline.decoders import DECODERS
from mobilabel.pipeline.labeller import Labeller

from .bench import embedded_label
from .paths import DATA, FLOWERS, RESULTS, WEIGHTS

_ORIENTATION = 0x0112


def phone_photo(source: Path, target: Path, seed: int, orientation: int) -> None:
    """``source`` upscaled to 4032x3024 with mild noise (+-6), saved at JPEG quality 90, as a phone writes it;
    with ``orientation`` 6, stored on its side with the EXIF tag that turns it upright."""
    pixels = np.asarray(Image.open(source).convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = Image.fromarray(np.clip(pixels + np.random.default_rng(seed).integers(-6, 7, pixels.shape), 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if orientation == 6:
        exif[_ORIENTATION] = 6
        noisy = noisy.transpose(Image.Transpose.ROTATE_90)
    noisy.save(target, quality=90, exif=exif)


def phone_set(count: int) -> list[Path]:
    folder = DATA / f"phone_{count}"
    folder.mkdir(parents=True, exist_ok=True)
    flowers = sorted(FLOWERS.glob("*/*/*.jpg"))
    chosen = [flowers[round(i * (len(flowers) - 1) / max(count - 1, 1))] for i in range(count)]
    paths = []
    for i, source in enumerate(chosen):
        paths.append(folder / f"IMG_{i:04d}.jpg")
        if not paths[-1].exists():
            phone_photo(source, paths[-1], i, 6 if i % 4 == 0 else 1)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    args = parser.parse_args()
    photos = phone_set(args.count)
    classifier = Classifier.load(Checkpoint.load(WEIGHTS), engine="onnx", device="cpu", threads=1)
    torch.set_num_threads(1)
    rows: list[dict[str, object]] = []

    started = time.perf_counter()
    full = classifier.predict(torch.stack([classifier.pixels(read_rgb(p, 10**9)) for p in photos]))
    rows.append({"name": "full-size Pillow decode (reference)", "ms_per_image": 1000 * (time.perf_counter() - started) / len(photos)})

    env = {**os.environ, "MOBILABEL_PRETRAINED": str(WEIGHTS), "MOBILABEL_DATABASE_URL": f"sqlite:///{DATA / 'phone.db'}"}
    for decoder in DECODERS:
        labeller = Labeller(classifier, batch_size=8, decode_threads=1, decoder=decoder)
        started = time.perf_counter()
        ready = [item for batch in labeller.read_ahead(photos) for item in labeller.prepare(batch.items, classifier)]
        ms = 1000 * (time.perf_counter() - started) / len(photos)
        assert all(item.tensor is not None for item in ready)
        reduced = classifier.predict(torch.stack([item.tensor for item in ready]))  # type: ignore[misc]
        misses = [
            f"{p.name}: {r.label} for {f.top_k[0][0]} {f.top_k[0][1]:.3f} / {f.top_k[1][0]} {f.top_k[1][1]:.3f}"
            for p, f, r in zip(photos, full, reduced, strict=True) if r.label != f.label
        ]  # fmt: skip
        difference = max(abs(dict(r.top_k)[f.label] - f.confidence) if f.label in dict(r.top_k) else 1.0 for f, r in zip(full, reduced, strict=True))
        (DATA / "phone.db").unlink(missing_ok=True)
        wall, rss = embedded_label(photos[0].parent, {**env, "MOBILABEL_DECODER": decoder}, DATA / "phone_home")
        rows.append({
            "name": f"decoder {decoder}", "ms_per_image": ms,
            "agreement": f"{1 - len(misses) / len(photos):.2%}", "max_confidence_difference": f"{difference:.4f}",
            "misses": "; ".join(misses), "label_wall_s": f"{wall:.1f}", "label_peak_rss_mb": f"{rss:.0f}",
        })  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    fields = ["name", "ms_per_image", "agreement", "max_confidence_difference", "misses", "label_wall_s", "label_peak_rss_mb"]
    with open(RESULTS / f"phone_{args.count}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        for row in rows:
            row["ms_per_image"] = f"{row['ms_per_image']:.1f}"
            writer.writerow(row)
            print("  ".join(f"{key}={value}" for key, value in row.items() if value != ""), flush=True)


if __name__ == "__main__":
    main()
