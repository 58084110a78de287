"""The kNN index for "more like this" and near-duplicate groups, chosen by measurement.

    python -m bench.neighbours [--count 1000000] [--small 100000] [--queries 50]

Makes ``--count`` synthetic embeddings shaped like real ones (each a random mix of two shared-flower
embeddings plus noise, non-negative like pooled ReLU features, 1,280 floats, L2-normalised), then for each
candidate measures build time, index memory, median query time for one "more like this" query (10 nearest)
and recall@10 against exact search. Exact search and faiss run at ``--count``; the graph indexes (hnswlib,
usearch), whose build at a million takes far longer than this 2-core machine can be held for, run at
``--small`` (their build time scales about linearly; their query time barely grows). Appends
bench/results/neighbours.csv. On a shared machine: single queries are timed, medians reported.
"""

from __future__ import annotations

import argparse
import csv
import gc
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mobilabel.curation.neighbours import ExactIndex

from .embedding import flower_embeddings
from .paths import RESULTS

Search = Callable[[npt.NDArray[np.float32], int], npt.NDArray[np.int64]]


def synthetic(count: int, seed: int = 0) -> npt.NDArray[np.float32]:
    real, _ = flower_embeddings()
    rng = np.random.default_rng(seed)
    out = np.empty((count, real.shape[1]), np.float32)
    for start in range(0, count, 50_000):
        n = min(50_000, count - start)
        a, b = real[rng.integers(0, len(real), n)], real[rng.integers(0, len(real), n)]
        w = rng.random((n, 1), np.float32)
        block = w * a + (1 - w) * b + rng.normal(0, 0.3, a.shape).astype(np.float32)
        np.maximum(block, 0, out=block)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + n] = block
    return out


def candidates(exact: ExactIndex) -> dict[str, Callable[[], tuple[Search, int]]]:
    """name -> a builder returning (search, index bytes); ``exact`` holds the normalised embeddings."""
    data = exact.embeddings
    dim = data.shape[1]

    def exact_numpy() -> tuple[Search, int]:
        return (lambda q, k: exact.search(q, k)[0]), data.nbytes

    def faiss_flat() -> tuple[Search, int]:
        import faiss

        index = faiss.IndexFlatIP(dim)
        index.add(data)
        return (lambda q, k: index.search(q, k)[1]), data.nbytes

    def faiss_ivf(nlist: int, nprobe: int, coding: str) -> Callable[[], tuple[Search, int]]:
        def build() -> tuple[Search, int]:
            import faiss

            index = faiss.index_factory(dim, f"IVF{nlist},{coding}", faiss.METRIC_INNER_PRODUCT)
            sample = data[np.random.default_rng(1).choice(len(data), min(len(data), 40 * nlist), replace=False)]
            index.train(sample)
            for start in range(0, len(data), 100_000):
                index.add(data[start : start + 100_000])
            index.nprobe = nprobe
            code = {"SQ8": dim, "Flat": 4 * dim, "SQfp16": 2 * dim}[coding]
            return (lambda q, k: index.search(q, k)[1]), len(data) * (code + 8)

        return build

    def hnswlib_index() -> tuple[Search, int]:
        import hnswlib

        index = hnswlib.Index(space="ip", dim=dim)
        index.init_index(max_elements=len(data), M=16, ef_construction=100)
        index.add_items(data, num_threads=2)
        index.set_ef(64)
        return (lambda q, k: index.knn_query(q, k)[0].astype(np.int64)), len(data) * (4 * dim + 16 * 2 * 4 + 8)

    def usearch_index() -> tuple[Search, int]:
        from usearch.index import Index

        index = Index(ndim=dim, metric="ip", dtype="i8", connectivity=16)
        index.add(np.arange(len(data)), data, threads=2)
        return (lambda q, k: np.asarray(index.search(q[0], k).keys, np.int64)[None, :]), index.memory_usage

    return {
        "numpy exact (blocked matmul, float32)": exact_numpy,
        "faiss IndexFlatIP (exact)": faiss_flat,
        "faiss IVF1024,SQ8 nprobe 16": faiss_ivf(1024, 16, "SQ8"),
        "faiss IVF1024,SQ8 nprobe 64": faiss_ivf(1024, 64, "SQ8"),
        "hnswlib M16 ef64 (float32)": hnswlib_index,
        "usearch i8 M16": usearch_index,
    }


GRAPH = ("hnswlib", "usearch")


def measure(exact: ExactIndex, names: list[str], queries: int, writer: csv.DictWriter[str]) -> None:
    data = exact.embeddings
    rng = np.random.default_rng(2)
    probes = data[rng.choice(len(data), queries, replace=False)]
    truth = exact.search(probes, 10)[0]
    builders = candidates(exact)
    for name in names:
        gc.collect()
        started = time.perf_counter()
        search, nbytes = builders[name]()
        build_s = time.perf_counter() - started
        times, hits = [], 0
        for row, probe in enumerate(probes):
            started = time.perf_counter()
            found = search(probe[None, :], 10)
            times.append(time.perf_counter() - started)
            hits += len(set(found[0].tolist()) & set(truth[row].tolist()))
        record = {
            "candidate": name,
            "embeddings": len(data),
            "dim": data.shape[1],
            "build_s": round(build_s, 1),
            "index_mb": round(nbytes / 2**20),
            "query_ms_median": round(1000 * float(np.median(times)), 2),
            "recall_at_10": round(hits / (10 * queries), 3),
            "machine": "2-core shared dev machine (others running)",
        }
        print(record, flush=True)
        writer.writerow(record)
        del search
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--only", nargs="*", help="candidate names starting with these words")
    args = parser.parse_args()
    out = RESULTS / "neighbours.csv"
    new = not out.exists()
    with Path(out).open("a", newline="") as f:
        fields = ["candidate", "embeddings", "dim", "build_s", "index_mb", "query_ms_median", "recall_at_10", "machine"]
        writer = csv.DictWriter(f, fields)
        if new:
            writer.writeheader()
        names = [
            n for n in candidates(ExactIndex(np.zeros((1, 1), np.float32))) if not args.only or n.startswith(tuple(args.only))
        ]
        for count, chosen in ((args.small, names), (args.count, [n for n in names if not n.startswith(GRAPH)])):
            if chosen and count:
                exact = ExactIndex(synthetic(count))  # normalising copies: the synthetic array is freed here
                measure(exact, chosen, args.queries, writer)
                f.flush()
                del exact


if __name__ == "__main__":
    main()
