"""Prometheus metrics of the worker processes, served by each worker's main process.

Pool processes write their numbers to files in a shared folder (prometheus_client's
multiprocess mode); the main process adds them up when scraped. prometheus_client
is imported only once that folder is set, because it picks its storage at import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from typing import Any

_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare() -> str:
    """Create a fresh folder for this worker's processes and point them at it (before forking)."""
    folder = tempfile.mkdtemp(prefix="mobilabel-metrics-")
    os.environ[_DIR_VARIABLE] = folder
    return folder


def serve(port: int, address: str = "0.0.0.0") -> None:
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
    start_http_server(port, address, registry)


def cleanup(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@cache
def _metrics() -> dict[str, Any] | None:
    if not os.environ.get(_DIR_VARIABLE):
        return None  # metrics are off (embedded use, or no --metrics-port)
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "labelled": Counter("mobilabel_images_labelled_total", "Images labelled"),
        "failed": Counter("mobilabel_images_failed_total", "Images that could not be labelled"),
        "batch_size": Histogram("mobilabel_batch_size", "Images per batch", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)),
        "batch_seconds": Histogram("mobilabel_batch_seconds", "Seconds per batch: decode wait, forward and write"),
        "queue_wait": Histogram(
            "mobilabel_queue_wait_seconds",
            "Seconds a chunk waited between enqueue and start",
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
        ),
        "serving": Gauge(
            "mobilabel_worker_processes_serving", "Pool processes with their model loaded", multiprocess_mode="livesum"
        ),
        "unable": Gauge(
            "mobilabel_worker_processes_unable",
            "Pool processes whose model could not be loaded: they cannot serve",
            multiprocess_mode="livesum",
        ),
        "version": Gauge("mobilabel_model_version_info", "Model version in use (1)", ["version"], multiprocess_mode="livemax"),
    }


_version_in_use: list[str] = []


def record_batch(version: str, labelled: int, failed: int, seconds: float) -> None:
    metrics = _metrics()
    if metrics is None:
        return
    metrics["labelled"].inc(labelled)
    metrics["failed"].inc(failed)
    metrics["batch_size"].observe(labelled + failed)
    metrics["batch_seconds"].observe(seconds)
    if _version_in_use != [version]:
        for old in _version_in_use:
            metrics["version"].labels(old).set(0)
        metrics["version"].labels(version).set(1)
        _version_in_use[:] = [version]


def record_serving(serving: bool) -> None:
    """Whether this pool process loaded its model (1 in one of the two gauges)."""
    metrics = _metrics()
    if metrics is not None:
        metrics["serving"].set(1 if serving else 0)
        metrics["unable"].set(0 if serving else 1)


def record_queue_wait(seconds: float) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics["queue_wait"].observe(seconds)


def process_ended(pid: int) -> None:
    """Drop a finished pool process's live gauges."""
    if os.environ.get(_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
