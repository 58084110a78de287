"""Nearest neighbours by cosine similarity: exact search for small libraries, faiss's IVF index with
8-bit scalar quantisation for large ones.

Chosen by measurement (bench/neighbours.py; figures in docs/benchmarks/curation.md, from a shared 2-core
machine): exact search (numpy or faiss's flat index) reads every embedding per query, so its time grows
with the library and misses the 100 ms "more like this" target well before a million; faiss
``IVF1024,SQ8`` scanning 16 of its 1,024 lists meets it at a million with high recall@10, in a quarter of
float32's memory (one byte per dimension), and builds from the stored embeddings alone (k-means on a
sample, then one assignment pass). The graph indexes (hnswlib, usearch) query faster still, but their
build at a million on two cores would take far longer than the IVF's, and hnswlib keeps float32. The index is built apart from the
embeddings' writers, so building never blocks labelling; a stale index is replaced whole.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Embeddings = npt.NDArray[np.float32]


def normalised(embeddings: npt.NDArray[np.floating]) -> Embeddings:
    """Rows scaled to unit length (zero rows stay zero), as float32 (N, D)."""
    rows = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: Embeddings = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return out


# Below this many embeddings exact search stays under the 100 ms "more like this" target (measured).
EXACT_LIMIT = 50_000


class SearchIndex(Protocol):
    def __len__(self) -> int: ...

    def vectors(self, rows: npt.NDArray[np.int64]) -> Embeddings:
        """The normalised embeddings of ``rows`` (R, D)."""
        ...

    def search(self, queries: npt.NDArray[np.floating], k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Indices (Q, k) and cosine similarities (Q, k) of the k most similar rows, best first (-1 pads)."""
        ...


def build_index(embeddings: npt.NDArray[np.floating]) -> SearchIndex:
    """An exact index below ``EXACT_LIMIT`` rows, an IVF one from there on, over (N, D) embeddings."""
    return ExactIndex(embeddings) if len(embeddings) < EXACT_LIMIT else IvfIndex(embeddings)


class ExactIndex:
    """Exact k-nearest-neighbour search by cosine similarity over (N, D) embeddings.

    Rows are normalised once; a search multiplies the queries by ``block`` rows at a time and keeps the
    best k of each block, so memory stays at the embeddings plus (queries x block) floats.
    """

    def __init__(self, embeddings: npt.NDArray[np.floating], block: int = 65_536) -> None:
        self.embeddings = normalised(embeddings)
        self.block = block

    def __len__(self) -> int:
        return len(self.embeddings)

    def vectors(self, rows: npt.NDArray[np.int64]) -> Embeddings:
        return self.embeddings[rows]

    def search(self, queries: npt.NDArray[np.floating], k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The ``k`` most similar rows to each query (Q, D): indices (Q, k) int64 and cosine similarities
        (Q, k) float32, most similar first. ``k`` is capped at the number of rows; raises ValueError
        when the dimensions differ."""
        q = normalised(np.atleast_2d(queries))
        if q.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"queries have {q.shape[1]} dimensions, the index {self.embeddings.shape[1]}")
        k = min(k, len(self))
        best_i = np.zeros((len(q), 0), np.int64)
        best_s = np.zeros((len(q), 0), np.float32)
        for start in range(0, len(self), self.block):
            scores = q @ self.embeddings[start : start + self.block].T
            take = min(k, scores.shape[1])
            top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
            best_i = np.concatenate([best_i, top + start], axis=1)
            best_s = np.concatenate([best_s, np.take_along_axis(scores, top, axis=1)], axis=1)
            if best_i.shape[1] > k:
                keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
                best_i, best_s = np.take_along_axis(best_i, keep, axis=1), np.take_along_axis(best_s, keep, axis=1)
        order = np.argsort(-best_s, axis=1, kind="stable")
        return np.take_along_axis(best_i, order, axis=1), np.take_along_axis(best_s, order, axis=1)


class IvfIndex:
    """faiss ``IVF{lists},SQ8`` over normalised (N, D) embeddings, inner product (= cosine); ``probes``
    lists scanned per query. k-means is trained on at most 40 x ``lists`` rows (faiss's advice)."""

    def __init__(self, embeddings: npt.NDArray[np.floating], lists: int = 1024, probes: int = 16) -> None:
        import faiss  # only large libraries pay for loading it

        self.embeddings = normalised(embeddings).astype(np.float16)
        dim = self.embeddings.shape[1]
        self.index = faiss.index_factory(dim, f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(len(self.embeddings), min(len(self.embeddings), 40 * lists), replace=False)
        self.index.train(self.embeddings[np.sort(sample)].astype(np.float32))
        for start in range(0, len(self.embeddings), 100_000):
            self.index.add(self.embeddings[start : start + 100_000].astype(np.float32))
        self.index.nprobe = probes  # type: ignore[attr-defined]  # an IVF index's setting, not on faiss.Index

    def __len__(self) -> int:
        return len(self.embeddings)

    def vectors(self, rows: npt.NDArray[np.int64]) -> Embeddings:
        return self.embeddings[rows].astype(np.float32)

    def search(self, queries: npt.NDArray[np.floating], k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        scores, found = self.index.search(normalised(np.atleast_2d(queries)), min(k, len(self)))
        return found.astype(np.int64), scores.astype(np.float32)
