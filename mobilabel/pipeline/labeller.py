"""The labelling pipeline: decode (in threads, ahead of the model), batch, forward, results.

Both drivers (the embedded ``mobilabel label`` and the Celery workers) run this
one class, so they cannot disagree on a label. The model is asked for before each
batch, so a newly active version takes over between batches, never inside one.

Several batches can be predicted at once ("lanes"), each a single-threaded run: on a
CPU shared with the decoders, independent runs use every core-second, where one
multi-threaded run's threads wait for each other whenever a decoder holds a core
(measured faster: docs/design/cpu-engine.md, figures in docs/benchmarks/recorded.md).

One inference per (content hash, model version): every file is read and hashed, then a batch's
contents that the version already labelled (``KnownResults``, asked once per batch) and the
second and later files of one content in the batch are not decoded nor predicted; each still
gets its own record, a copy of its content's result under its own path and fingerprint. So do
copies of a content in the last few batches of the run (read ahead, not yet written).

Near ties are settled at full size: a photo decoded at a reduced scale whose top two probabilities
are closer than ``refine_margin`` (MOBILABEL_REFINE_MARGIN) is decoded again at full size and
predicted again (``refine``), since no reduced scale tips every near tie the way the full decode
does (on phone-size photos, each one whose reduced label differed from the full decode's was such a tie).
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

from ..config import Settings
from ..imaging import ImageSource
from ..models.classifier import Classifier, Prediction
from ..object_paths import source_path
from ..storage.results import ResultRecord
from ..storage.states import ResultStatus
from .decoders import Decoded, Reader, finish_on_device

# MOBILABEL_REFINE_MARGIN's default: a Labeller built directly refines near ties as `mobilabel label` does.
DEFAULT_REFINE_MARGIN: float = Settings.model_fields["refine_margin"].default

# Called before each batch: the classifier that batch must use.
ModelSource = Callable[[], Classifier]
# Given content hashes and a model version id: an ``ok`` result that version already gave each
# content it labelled (at any path; the drivers look in the database), keyed by content hash.
KnownResults = Callable[[Sequence[str], str], Mapping[str, ResultRecord]]


@dataclass(frozen=True)
class ReadBatch:
    """A batch read ahead, in path order: each file decoded, or read and hashed only (``Decoded.undecoded``)
    when its result will be a copy: of ``known`` (the results version ``version_id`` gave its content
    earlier), of the batch's first file of its content, or of an earlier batch's (``earlier``)."""

    items: list[Decoded]
    version_id: str
    known: Mapping[str, ResultRecord]
    earlier: frozenset[str] = frozenset()  # contents an earlier batch of the run (read for this version) predicts


@dataclass(frozen=True)
class LabelledBatch:
    """A batch's records; those the batch predicted carry their embedding, computed by the backbone
    ``backbone`` (``models.embedding.backbone_fingerprint``): the drivers keep them (storage.embedding_writes)."""

    model_version_id: str
    records: list[ResultRecord]
    backbone: str = ""


def to_record(item: Decoded, prediction: Prediction | None) -> ResultRecord:
    if prediction is None:
        return ResultRecord(
            str(item.path),
            item.content_id,
            ResultStatus.FAILED,
            error=item.error,
            content_hash=item.content_hash,
            warning=item.warning,
        )
    return ResultRecord(
        image_path=str(item.path),
        content_id=item.content_id,
        status=ResultStatus.OK,
        label=prediction.label,
        confidence=prediction.confidence,
        top_k=[{"label": label, "confidence": p} for label, p in prediction.top_k],
        content_hash=item.content_hash,
        warning=item.warning,
        embedding=prediction.embedding,
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
        refine_margin: float = DEFAULT_REFINE_MARGIN,
    ) -> None:
        """``refine_margin``: a reduced decode whose top-1 minus top-2 probability is below it is decoded again
        at full size (``refine``); 0 never (``build_labeller`` passes MOBILABEL_REFINE_MARGIN, whose default is this one's)."""
        if batch_size < 1 or decode_threads < 1 or lanes < 1:
            raise ValueError("batch size, decode threads and lanes must be at least 1")
        if not 0 <= refine_margin <= 1:
            raise ValueError("the refine margin is a difference of probabilities: between 0 and 1")
        self.refine_margin = refine_margin
        # One full-size decode at a time across the lanes: decoding and resizing a 48-megapixel photo takes
        # several times its decoded size in memory, which two lanes at once would double.
        self._full_size = threading.Lock()
        self.model: ModelSource = model if callable(model) else (lambda: model)
        self.batch_size = batch_size
        self.decode_threads = decode_threads
        self.lanes = lanes
        self.reader = Reader(max_pixels, allowed_roots, decoder)

    def within(self, roots: Sequence[Path]) -> Labeller:
        """This labeller (its model, lanes and locks shared), reading only files that also lie under ``roots``
        (``Reader.within``); itself when ``roots`` is empty."""
        if not roots:
            return self
        narrowed = copy.copy(self)
        narrowed.reader = self.reader.within(roots)
        return narrowed

    @property
    def classifier(self) -> Classifier:
        """The classifier the next batch will use."""
        return self.model()

    def label(self, paths: Iterable[Path | str], known: KnownResults | None = None) -> Iterator[LabelledBatch]:
        """Results, a batch at a time, in the order of ``paths``.

        Reading and decoding run ahead in a thread pool, so the next batches are being read
        while the model computes these. With ``known``, contents the model version already
        labelled are not decoded nor predicted again (asked once per batch, before decoding).
        """
        lanes = ThreadPoolExecutor(self.lanes, thread_name_prefix="predict")
        try:
            in_flight: deque[tuple[Future[list[ResultRecord | None]], ReadBatch, Classifier]] = deque()
            recent: deque[tuple[str, dict[str, ResultRecord]]] = deque(maxlen=self.window)
            for batch in self.read_ahead(paths, known):
                # The model is asked for here, in order, so versions never go back and forth.
                classifier = self.model()
                in_flight.append((lanes.submit(self.predict, batch, classifier), batch, classifier))
                if len(in_flight) == self.lanes:
                    yield self._complete(*in_flight.popleft(), recent)
            while in_flight:
                yield self._complete(*in_flight.popleft(), recent)
        finally:
            # A caller that stops early (Ctrl-C, a cancel) waits for the batches being predicted, not those queued.
            lanes.shutdown(wait=True, cancel_futures=True)

    @property
    def window(self) -> int:
        """How many of the last batches a batch copies contents from: those read ahead or still in the
        lanes, which the driver has not written yet; older ones it finds through ``known``."""
        return self.lanes + 3

    def predict(self, batch: ReadBatch, classifier: Classifier) -> list[ResultRecord | None]:
        """Records for the batch, in its order: one inference per content the version has not labelled
        yet; None for a copy of a content an earlier batch predicted (``label`` fills it in)."""
        # A version that took over after the batch was read labels every content itself.
        known, earlier = (batch.known, batch.earlier) if batch.version_id == classifier.version_id else ({}, frozenset())
        firsts: dict[str, int] = {}  # content hash -> index (in ``items``) of the file predicted for it
        for i, item in enumerate(batch.items):
            if item.content_hash is not None and item.content_hash not in known and item.content_hash not in earlier:
                firsts.setdefault(item.content_hash, i)
        own = [i for i, item in enumerate(batch.items) if item.content_hash is None or firsts.get(item.content_hash) == i]
        items = dict(zip(own, self.prepare([batch.items[i] for i in own], classifier), strict=True))
        readable = [item for item in items.values() if item.tensor is not None]
        predictions: dict[int, Prediction] = {}
        if readable:
            for item, prediction in zip(readable, self.refine(readable, _forward(readable, classifier), classifier), strict=True):
                predictions[id(item)] = prediction
        records = {i: to_record(item, predictions.get(id(item))) for i, item in items.items()}
        copied = {h: records[i] for h, i in firsts.items()} | dict(known)
        return [
            records[i] if i in records else _copy(copied[str(item.content_hash)], item) if item.content_hash in copied else None
            for i, item in enumerate(batch.items)
        ]

    def near_ties(self, items: Sequence[Decoded], predictions: Sequence[Prediction]) -> list[int]:
        """Indices of the ``items`` decoded at a reduced scale whose ``predictions`` are nearer a tie than
        ``refine_margin`` (top-1 minus top-2 probability): those ``refine`` decodes again at full size."""
        return [
            i
            for i, (item, p) in enumerate(zip(items, predictions, strict=True))
            if item.reduced and p.margin < self.refine_margin
        ]

    def refine(self, items: Sequence[Decoded], predictions: Sequence[Prediction], classifier: Classifier) -> list[Prediction]:
        """``predictions`` of ``items`` (decoded for ``classifier``), each of the ``near_ties`` predicted again from a
        full-size decode, in one extra forward pass.

        The files are read and decoded one at a time, here, and one at a time across the lanes, so the
        labeller holds at most one full-size photo at once (a 48-megapixel photo is 144 MB decoded; a bigger JPEG
        is decoded at the largest DCT scale within that, ``imaging.FULL_DECODE_PIXELS``). One
        that no longer decodes, or whose content changed since it was read, keeps its reduced decode's prediction.
        """
        redone = []
        for i in self.near_ties(items, predictions):
            with self._full_size:
                item = self.reader.read(items[i].path, classifier, self.reader.full)
            if item.tensor is not None and item.content_hash == items[i].content_hash:
                redone.append((i, item))
        refined = list(predictions)
        if redone:
            for (i, _), prediction in zip(redone, _forward([item for _, item in redone], classifier), strict=True):
                refined[i] = prediction
        return refined

    def _complete(
        self,
        future: Future[list[ResultRecord | None]],
        batch: ReadBatch,
        classifier: Classifier,
        recent: deque[tuple[str, dict[str, ResultRecord]]],
    ) -> LabelledBatch:
        """The batch's records, copies of contents the ``recent`` batches predicted filled in; then it joins them."""
        records = future.result()
        earlier: dict[str, ResultRecord] = {}
        for version_id, results in recent:
            if version_id == classifier.version_id:
                earlier.update(results)
        missing = [i for i, r in enumerate(records) if r is None and str(batch.items[i].content_hash) not in earlier]
        if missing:  # the earlier batch was predicted by another version (the active one went back and forth)
            again = self.predict(ReadBatch([batch.items[i] for i in missing], classifier.version_id, {}), classifier)
            for i, record in zip(missing, again, strict=True):
                records[i] = record
        done = [
            r if r is not None else _copy(earlier[str(item.content_hash)], item)
            for r, item in zip(records, batch.items, strict=True)
        ]
        recent.append((classifier.version_id, {r.content_hash: r for r in done if r.content_hash is not None}))
        return LabelledBatch(classifier.version_id, done, classifier.backbone or "")

    def prepare(self, batch: Sequence[Decoded], classifier: Classifier) -> list[Decoded]:
        """The batch as inputs for ``classifier``: JPEGs read for the device decoded there."""
        preprocessing = classifier.preprocessing
        # A version with other input sizes took over while this batch was decoded ahead (or one that
        # had not labelled a content the batch's version had, which was then left undecoded).
        batch = [
            item if item.preprocessing == preprocessing and not item.undecoded else self.reader.read(item.path, classifier)
            for item in batch
        ]
        return finish_on_device(batch, classifier, self.reader)

    def read_ahead(self, paths: Iterable[Path | str], known: KnownResults | None = None) -> Iterator[ReadBatch]:
        """Batches of files read and hashed, then decoded (all in the thread pool) unless their result will be a copy.

        Reading runs a batch ahead of decoding, and decoding two batches ahead of the caller.
        """
        source = iter(paths)
        pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="decode")
        try:
            classifier = self.model()
            loading = deque(pool.submit(self.reader.load, source_path(p), classifier) for p in islice(source, self.batch_size))
            decoding: deque[_Decoding] = deque()
            recent: deque[tuple[str, set[str]]] = deque(maxlen=self.window)  # (version, contents decoded) of the last batches
            while loading:
                loaded: list[ImageSource | Decoded] = []
                while loading and len(loaded) < self.batch_size:
                    loaded.append(loading.popleft().result())
                    for p in islice(source, 1):
                        loading.append(pool.submit(self.reader.load, source_path(p), classifier))
                decoding.append(self._decode(pool, loaded, classifier, known, recent))
                if len(decoding) == 2:
                    yield decoding.popleft().finished()
                classifier = self.model()
            while decoding:
                yield decoding.popleft().finished()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # as in ``label``: files not yet started are not read

    def _decode(
        self,
        pool: ThreadPoolExecutor,
        loaded: list[ImageSource | Decoded],
        classifier: Classifier,
        known: KnownResults | None,
        recent: deque[tuple[str, set[str]]],
    ) -> _Decoding:
        """Start decoding the first file of each content the version has not labelled (in the database,
        or in the ``recent`` batches); the rest stay read only. The batch then joins ``recent``."""
        earlier = set().union(*(contents for version_id, contents in recent if version_id == classifier.version_id))
        hashes = [item.content_hash for item in loaded if isinstance(item, ImageSource) and item.content_hash not in earlier]
        found = known(hashes, classifier.version_id) if known is not None and hashes else {}
        decoding: set[str] = set()
        copies: set[str] = set()
        items: list[Future[Decoded] | Decoded] = []
        for item in loaded:
            if isinstance(item, Decoded):
                items.append(item)
            elif item.content_hash in found or item.content_hash in decoding:
                items.append(self.reader.unread(item, classifier))
            elif item.content_hash in earlier:
                copies.add(item.content_hash)
                items.append(self.reader.unread(item, classifier))
            else:
                decoding.add(item.content_hash)
                items.append(pool.submit(self.reader.decode, item, classifier))
        recent.append((classifier.version_id, decoding | copies | set(found)))  # every content the batch will have a result for
        return _Decoding(items, classifier.version_id, found, frozenset(copies))


@dataclass(frozen=True)
class _Decoding:
    """A ``ReadBatch`` whose files are still being decoded."""

    items: list[Future[Decoded] | Decoded]
    version_id: str
    known: Mapping[str, ResultRecord]
    earlier: frozenset[str]

    def finished(self) -> ReadBatch:
        items = [item.result() if isinstance(item, Future) else item for item in self.items]
        return ReadBatch(items, self.version_id, self.known, self.earlier)


def _forward(items: Sequence[Decoded], classifier: Classifier) -> list[Prediction]:
    """``classifier``'s predictions for decoded ``items`` (each with a tensor), in one forward pass."""
    return classifier.predict(classifier.stack([item.tensor for item in items]))


def _copy(result: ResultRecord, item: Decoded) -> ResultRecord:
    """``result`` (of the same content) as the record of ``item``: its own path and fingerprint (its
    embedding is the content's, kept once from the record predicted)."""
    return replace(result, image_path=str(item.path), content_id=item.content_id, embedding=None)
