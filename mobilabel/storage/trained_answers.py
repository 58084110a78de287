"""Which answers a version was trained on, with the out-of-fold label of each (``training.out_of_fold``) where one
was computed, and what a quick head said of them out-of-fold, written when it is registered
(``accuracy_queries.held_out`` and ``acceptance_queries.held_out_outcomes`` read them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from .tables import HeldOutPrediction, TrainedAnswer
from .upsert import upsert


def record_trained(
    session: Session, version_id: str, content_hashes: Iterable[str], out_of_fold: Mapping[str, str] | None = None
) -> None:
    """Record that ``version_id`` was trained on the answers with ``content_hashes``; ``out_of_fold`` maps
    some of them to the label a model trained without them gave them."""
    labels = out_of_fold or {}
    rows = [{"version_id": version_id, "content_hash": h, "out_of_fold": labels.get(h)} for h in sorted(set(content_hashes))]
    upsert(session, TrainedAnswer, rows, keys=("version_id", "content_hash"), update=("out_of_fold",))


def record_held_out_predictions(session: Session, version_id: str, predictions: Iterable[tuple[str, str, float]]) -> None:
    """Record (content hash, label, calibrated confidence) of answers ``version_id`` was trained on, each predicted by
    a fit without it (k-fold out-of-fold predictions, as a quick head makes them): `accept` counts them as held out."""
    rows = [{"version_id": version_id, "content_hash": h, "label": label, "confidence": p} for h, label, p in predictions]
    upsert(session, HeldOutPrediction, rows, keys=("version_id", "content_hash"), update=("label", "confidence"))
