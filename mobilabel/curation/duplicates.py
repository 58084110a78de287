"""Near-duplicate groups: photos whose embeddings are nearly the same direction (bursts, crops, resizes,
recompressions, colour edits), joined transitively.

Embeddings are centred on the library's mean first: pooled ReLU features share a large common
component that makes any two photos look alike (on the bench, no threshold on raw cosine met both
targets; centred, the default does: docs/benchmarks/curation.md). Each photo is linked to those of its ``k`` nearest neighbours whose cosine
similarity (of centred embeddings) reaches ``threshold``; the groups are the connected components of those links with two or more members. The
default threshold is the one bench/duplicates.py measured (results in bench/results/duplicates.csv).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .neighbours import build_index

DEFAULT_THRESHOLD = 0.75


def near_duplicate_groups(
    embeddings: npt.NDArray[np.floating], threshold: float = DEFAULT_THRESHOLD, k: int = 10, batch: int = 1024
) -> list[list[int]]:
    """Groups of row indices of ``embeddings`` (N, D) (each sorted, the groups by their first member),
    two or more rows each, linked by a centred cosine similarity of at least ``threshold``. Raises
    ValueError for a threshold outside (0, 1]."""
    if not 0 < threshold <= 1:
        raise ValueError(f"the near-duplicate threshold must be in (0, 1], got {threshold}")
    rows32 = np.asarray(embeddings, np.float32)
    index = build_index(rows32 - rows32.mean(axis=0))
    parent = np.arange(len(index))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for start in range(0, len(index), batch):
        rows = np.arange(start, min(start + batch, len(index)))
        found, similarity = index.search(index.vectors(rows), k + 1)
        for row, neighbours, scores in zip(rows.tolist(), found.tolist(), similarity.tolist(), strict=True):
            for other, score in zip(neighbours, scores, strict=True):
                if other != row and other >= 0 and score >= threshold:
                    a, b = root(row), root(other)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    roots = np.array([root(i) for i in range(len(index))], np.int64)
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(roots.tolist()):
        groups.setdefault(r, []).append(i)
    return [members for _, members in sorted(groups.items()) if len(members) > 1]


def group_of(groups: list[list[int]]) -> npt.NDArray[np.int64]:
    """Per row, the index of its group in ``groups`` or -1 (rows up to the largest member)."""
    size = 1 + max((m for g in groups for m in g), default=-1)
    out = np.full(size, -1, np.int64)
    for number, members in enumerate(groups):
        out[members] = number
    return out
