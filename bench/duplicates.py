"""Near-duplicate groups on a set with known duplicates.

    python -m bench.duplicates [--originals 120]

Takes ``--originals`` shared flower photos and makes four edited copies of each (a crop keeping the
central 80% of each side, a resize to half the size, a JPEG recompression at quality 40, and a colour
edit: saturation x1.4, brightness x1.1), then groups them together with every other shared flower photo
(the distractors, none known to be a copy) by mobilabel.curation.duplicates at several thresholds.
Precision and recall are over pairs: a pair is true when both photos come from the same original.
Target: recall >= 0.95 at precision >= 0.95. Writes bench/results/duplicates.csv.
"""

from __future__ import annotations

import argparse
import csv
import io
from itertools import combinations

import numpy as np
from PIL import Image, ImageEnhance

from mobilabel.curation.duplicates import near_duplicate_groups

from .embedding import embed_images, flower_embeddings, flower_photos
from .paths import DATA, RESULTS


def edits(image: Image.Image) -> list[Image.Image]:
    """Crop, resize, JPEG recompression and colour edit of ``image``."""
    w, h = image.size
    jpeg = io.BytesIO()
    image.save(jpeg, "JPEG", quality=40)
    return [
        image.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
        image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        Image.open(io.BytesIO(jpeg.getvalue())),
        ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(1.4)).enhance(1.1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=120)
    args = parser.parse_args()
    photos, _ = flower_photos()
    base, _ = flower_embeddings()
    chosen = np.random.default_rng(0).choice(len(photos), args.originals, replace=False)
    cache = DATA / f"duplicates-edits-{args.originals}.npy"
    if cache.exists():
        copies = np.load(cache)
    else:
        made = [copy for i in chosen.tolist() for copy in edits(Image.open(photos[i]).convert("RGB"))]
        copies = embed_images(made)
        DATA.mkdir(parents=True, exist_ok=True)
        np.save(cache, copies)
    embeddings = np.concatenate([base, copies])
    family = np.arange(len(embeddings))  # distractors: a family of their own
    family[len(base) :] = np.repeat(chosen, 4)
    truth = {(a, b) for a, b in combinations(range(len(embeddings)), 2) if family[a] == family[b]}
    rows = []
    for threshold in (0.65, 0.70, 0.72, 0.75, 0.78, 0.80, 0.85):
        found = {pair for group in near_duplicate_groups(embeddings, threshold) for pair in combinations(group, 2)}
        hits = len(found & truth)
        rows.append(
            {
                "threshold": threshold,
                "photos": len(embeddings),
                "copies": len(copies),
                "true_pairs": len(truth),
                "found_pairs": len(found),
                "precision": round(hits / max(1, len(found)), 3),
                "recall": round(hits / len(truth), 3),
            }
        )
        print(rows[-1], flush=True)
    with (RESULTS / "duplicates.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
