"""The labelling pipeline: decode (in threads, ahead of the model), batch, forward, results.

Both drivers (the embedded ``mobilabel label`` and the Celery workers) run this
one class, so they cannot disagree on a label. The model is asked for before each
batch, so a newly active version takes over between batches, never inside one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch

from ..imaging import ImageReadError, content_identity, read_rgb
from ..models import Classifier, Prediction
from ..models.transforms import ImageTransform, Preprocessing
from ..storage.results import FAILED, OK, ResultRecord
from .paths import outside_roots

# Called before each batch: the classifier that batch must use.
ModelSource = Callable[[], Classifier]


@dataclass(frozen=True)
class Decoded:
    path: Path
    content_id: str | None
    preprocessing: Preprocessing
    tensor: torch.Tensor | None = None
    error: str | None = None


@dataclass(frozen=True)
class LabelledBatch:
    model_version_id: str
    records: list[ResultRecord]


def decode(
    path: Path, preprocessing: Preprocessing, transform: ImageTransform, max_pixels: int, allowed_roots: Sequence[Path] = ()
) -> Decoded:
    """Read and transform one image; any failure is returned as an error, never raised."""
    if outside_roots(path, allowed_roots):
        return Decoded(path, None, preprocessing, error="path is outside the allowed roots (MOBILABEL_ALLOWED_ROOTS); not opened")
    try:
        content_id = content_identity(path)
    except OSError as exc:
        return Decoded(path, None, preprocessing, error=f"cannot stat file: {exc.strerror or exc}")
    try:
        return Decoded(path, content_id, preprocessing, tensor=transform(read_rgb(path, max_pixels)))
    except ImageReadError as exc:
        return Decoded(path, content_id, preprocessing, error=str(exc))
    except Exception as exc:  # a transform failing on one odd image must not sink the batch
        return Decoded(path, content_id, preprocessing, error=f"cannot transform image: {exc}")


def to_record(item: Decoded, prediction: Prediction | None) -> ResultRecord:
    if prediction is None:
        return ResultRecord(str(item.path), item.content_id, FAILED, error=item.error)
    return ResultRecord(
        image_path=str(item.path),
        content_id=item.content_id,
        status=OK,
        label=prediction.label,
        confidence=prediction.confidence,
        top_k=[{"label": label, "confidence": p} for label, p in prediction.top_k],
    )


class Labeller:
    def __init__(
        self,
        model: Classifier | ModelSource,
        batch_size: int = 32,
        decode_threads: int = 2,
        max_pixels: int = 89_478_485,
        allowed_roots: Sequence[Path] = (),
    ) -> None:
        if batch_size < 1 or decode_threads < 1:
            raise ValueError("batch size and decode threads must be at least 1")
        self.model: ModelSource = model if callable(model) else (lambda: model)  # type: ignore[assignment,return-value]
        self.batch_size = batch_size
        self.decode_threads = decode_threads
        self.max_pixels = max_pixels
        self.allowed_roots = tuple(allowed_roots)

    @property
    def classifier(self) -> Classifier:
        """The classifier the next batch will use."""
        return self.model()

    def label(self, paths: Iterable[Path | str]) -> Iterator[LabelledBatch]:
        """Results, a batch at a time, in the order of ``paths``.

        Decoding runs ahead in a thread pool, bounded to two batches, so the next
        batch is being decoded while the model computes this one.
        """
        for batch in self._decoded_batches(paths):
            yield self.predict(batch)

    def predict(self, batch: Sequence[Decoded]) -> LabelledBatch:
        classifier = self.model()
        preprocessing = classifier.checkpoint.preprocessing
        # A version with other input sizes took over while this batch was decoded ahead.
        batch = [item if item.preprocessing == preprocessing else self._decode(item.path, classifier) for item in batch]
        readable = [item for item in batch if item.tensor is not None]
        predictions: dict[int, Prediction] = {}
        if readable:
            stacked = torch.stack([item.tensor for item in readable])  # type: ignore[misc]
            for item, prediction in zip(readable, classifier.predict(stacked), strict=True):
                predictions[id(item)] = prediction
        return LabelledBatch(classifier.version_id, [to_record(item, predictions.get(id(item))) for item in batch])

    def _decode(self, path: Path | str, classifier: Classifier) -> Decoded:
        return decode(Path(path), classifier.checkpoint.preprocessing, classifier.transform, self.max_pixels, self.allowed_roots)

    def _decoded_batches(self, paths: Iterable[Path | str]) -> Iterator[list[Decoded]]:
        window = 2 * self.batch_size
        source = iter(paths)
        with ThreadPoolExecutor(self.decode_threads, thread_name_prefix="decode") as pool:
            classifier = self.model()
            pending: deque[Future[Decoded]] = deque(pool.submit(self._decode, p, classifier) for p in islice(source, window))
            batch: list[Decoded] = []
            while pending:
                batch.append(pending.popleft().result())
                for p in islice(source, 1):
                    pending.append(pool.submit(self._decode, p, classifier))
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
                    classifier = self.model()
            if batch:
                yield batch
