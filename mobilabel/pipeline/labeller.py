"""The labelling pipeline: decode (in threads, ahead of the model), batch, forward, results.

Both drivers (the embedded ``mobilabel label`` and the Celery workers) run this
one class, so they cannot disagree on a label. The model is asked for before each
batch, so a newly active version takes over between batches, never inside one.

Several batches can be predicted at once ("lanes"), each a single-threaded run: on a
CPU shared with the decoders, independent runs use every core-second, where one
multi-threaded run's threads wait for each other whenever a decoder holds a core
(bench/: 214 img/s with one 2-thread run, 250 with two 1-thread lanes, 2 cores).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch

from ..models import Classifier, Prediction
from ..storage.results import FAILED, OK, ResultRecord
from .decoders import Decoded, Reader, finish_on_device

# Called before each batch: the classifier that batch must use.
ModelSource = Callable[[], Classifier]


@dataclass(frozen=True)
class LabelledBatch:
    model_version_id: str
    records: list[ResultRecord]


def to_record(item: Decoded, prediction: Prediction | None) -> ResultRecord:
    if prediction is None:
        return ResultRecord(
            str(item.path), item.content_id, FAILED, error=item.error, content_hash=item.content_hash, warning=item.warning
        )
    return ResultRecord(
        image_path=str(item.path),
        content_id=item.content_id,
        status=OK,
        label=prediction.label,
        confidence=prediction.confidence,
        top_k=[{"label": label, "confidence": p} for label, p in prediction.top_k],
        content_hash=item.content_hash,
        warning=item.warning,
    )


class Labeller:
    def __init__(
        self,
        model: Classifier | ModelSource,
        batch_size: int = 32,
        decode_threads: int = 2,
        max_pixels: int = 89_478_485,
        allowed_roots: Sequence[Path] = (),
        decoder: str = "torchvision",
        lanes: int = 1,
    ) -> None:
        if batch_size < 1 or decode_threads < 1 or lanes < 1:
            raise ValueError("batch size, decode threads and lanes must be at least 1")
        self.model: ModelSource = model if callable(model) else (lambda: model)  # type: ignore[assignment,return-value]
        self.batch_size = batch_size
        self.decode_threads = decode_threads
        self.lanes = lanes
        self.reader = Reader(max_pixels, allowed_roots, decoder)

    @property
    def classifier(self) -> Classifier:
        """The classifier the next batch will use."""
        return self.model()

    def label(self, paths: Iterable[Path | str]) -> Iterator[LabelledBatch]:
        """Results, a batch at a time, in the order of ``paths``.

        Decoding runs ahead in a thread pool, bounded to two batches, so the next
        batches are being decoded while the model computes these.
        """
        with ThreadPoolExecutor(self.lanes, thread_name_prefix="predict") as lanes:
            in_flight: deque[Future[LabelledBatch]] = deque()
            for batch in self.read_ahead(paths):
                # The model is asked for here, in order, so versions never go back and forth.
                in_flight.append(lanes.submit(self.predict, batch, self.model()))
                if len(in_flight) == self.lanes:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()

    def predict(self, batch: Sequence[Decoded], classifier: Classifier) -> LabelledBatch:
        batch = self.prepare(batch, classifier)
        readable = [item for item in batch if item.tensor is not None]
        predictions: dict[int, Prediction] = {}
        if readable:
            # Files Pillow decoded are on the CPU, the rest on the model's device already.
            device = classifier.engine.device
            stacked = torch.stack([item.tensor.to(device) for item in readable])  # type: ignore[union-attr]
            for item, prediction in zip(readable, classifier.predict(stacked), strict=True):
                predictions[id(item)] = prediction
        return LabelledBatch(classifier.version_id, [to_record(item, predictions.get(id(item))) for item in batch])

    def prepare(self, batch: Sequence[Decoded], classifier: Classifier) -> list[Decoded]:
        """The batch as inputs for ``classifier``: JPEGs read for the device decoded there."""
        preprocessing = classifier.checkpoint.preprocessing
        # A version with other input sizes took over while this batch was decoded ahead.
        batch = [item if item.preprocessing == preprocessing else self.reader.read(item.path, classifier) for item in batch]
        return finish_on_device(batch, classifier, self.reader)

    def read_ahead(self, paths: Iterable[Path | str]) -> Iterator[list[Decoded]]:
        """Batches of files read (or decoded, with Pillow) in the thread pool, two batches ahead."""
        window = 2 * self.batch_size
        source = iter(paths)
        with ThreadPoolExecutor(self.decode_threads, thread_name_prefix="decode") as pool:
            classifier = self.model()
            pending: deque[Future[Decoded]] = deque(pool.submit(self.reader.read, Path(p), classifier) for p in islice(source, window))
            batch: list[Decoded] = []
            while pending:
                batch.append(pending.popleft().result())
                for p in islice(source, 1):
                    pending.append(pool.submit(self.reader.read, Path(p), classifier))
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
                    classifier = self.model()
            if batch:
                yield batch
