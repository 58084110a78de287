"""Dynamic batching for /api/predict: concurrent requests' images gathered into one forward pass.

As TorchServe and Triton do: a batch closes when it holds ``max_batch`` images or when the
oldest image in it has waited ``max_wait_s``, whichever comes first; and while another lane is
idle, a batch takes no more than its share of what is queued and does not wait: at low load each
request goes at once, under load every lane gets a batch (one lane taking all the requests in
flight left the others idle, slower than batches of 1: docs/design/predict-and-tta.md). Each batch goes through
``Labeller.predict``, the very code `mobilabel label` runs, so a photo gets the same label
and confidence from both. One batching thread per inference lane keeps every core busy.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ...pipeline.labeller import Labeller, ReadBatch
from ...storage.results import ResultRecord

# Called with each batch's size (a metric).
BatchObserver = Callable[[int], None]


@dataclass
class _Request:
    paths: list[Path]
    future: Future[tuple[str, list[ResultRecord]]] = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)


class Batcher:
    """Accepts lists of image files; answers each with (model version id, one record per file)."""

    def __init__(self, labeller: Labeller, max_batch: int, max_wait_s: float, on_batch: BatchObserver | None = None) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("MOBILABEL_PREDICT_MAX_BATCH must be at least 1 and MOBILABEL_PREDICT_MAX_WAIT_MS at least 0")
        self._labeller = labeller
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._idle = 0  # lanes waiting for a request
        self._idle_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(labeller.decode_threads, thread_name_prefix="predict-read")
        self._threads = [
            threading.Thread(target=self._serve, name=f"predict-batch-{i}", daemon=True) for i in range(labeller.lanes)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, paths: Sequence[Path]) -> Future[tuple[str, list[ResultRecord]]]:
        request = _Request(list(paths))
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._readers.shutdown()

    def _serve(self) -> None:
        while True:
            first = self._wait_for_request()
            if first is None:
                return
            batch = [first]
            size = len(first.paths)
            deadline = first.arrived + self._max_wait_s
            stop = False
            while size < self._max_batch:
                with self._idle_lock:
                    idle = self._idle
                if idle and size * idle >= self._queue.qsize():  # the rest is the idle lanes' share
                    break
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.paths)
            self._run(batch)
            if stop:
                return

    def _wait_for_request(self) -> _Request | None:
        with self._idle_lock:
            self._idle += 1
        try:
            return self._queue.get()
        finally:
            with self._idle_lock:
                self._idle -= 1

    def _run(self, batch: list[_Request]) -> None:
        try:
            classifier = self._labeller.model()
            paths = [p for request in batch for p in request.paths]
            decoded = list(self._readers.map(lambda p: self._labeller.reader.read(p, classifier), paths))
            # Nothing is known beforehand: each content is predicted once, its copies in the batch share its result.
            predicted = self._labeller.predict(ReadBatch(decoded, classifier.version_id, {}), classifier)
            records = [r for r in predicted if r is not None]
            assert len(records) == len(paths), "with nothing known, predict answers every file"
        except Exception as exc:  # the requests waiting on this batch get the error, the thread lives on
            for request in batch:
                request.future.set_exception(exc)
            return
        if self._on_batch is not None:
            self._on_batch(len(paths))
        start = 0
        for request in batch:
            request.future.set_result((classifier.version_id, records[start : start + len(request.paths)]))
            start += len(request.paths)
