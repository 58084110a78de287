"""Which answers a version was trained on, and what a fit without each said of it (its out-of-fold prediction:
``training.out_of_fold`` for a trained version, ``training.quick`` for a quick head), written when it is
registered (``accuracy_queries`` and ``acceptance_queries.held_out_outcomes`` read them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from .tables import HeldOutPrediction, TrainedAnswer
from .upsert import upsert


def record_trained(session: Session, version_id: str, content_hashes: Iterable[str]) -> None:
    """Record that ``version_id`` was trained on the answers with ``content_hashes``."""
    rows = [{"version_id": version_id, "content_hash": h} for h in sorted(set(content_hashes))]
    upsert(session, TrainedAnswer, rows, keys=("version_id", "content_hash"), update=())


def record_held_out_predictions(
    session: Session,
    version_id: str,
    predictions: Iterable[tuple[str, str, float]],
    answered: Mapping[str, tuple[str, float]] | None = None,
) -> None:
    """Record (content hash, label, calibrated confidence) of answers ``version_id`` was trained on (and recorded so by
    ``record_trained``), each predicted by a fit without it (k-fold out-of-fold): held-out figures and `accept`
    count them in place of the version's own label. ``answered``: by content hash, the answer fitted against and
    the same fit's calibrated probability of it (what likely mistakes rank the answer by); None where not given."""
    given = answered or {}
    rows = [
        {
            "version_id": version_id, "content_hash": h, "label": label, "confidence": p,
            "answer_label": given[h][0] if h in given else None, "answer_confidence": given[h][1] if h in given else None,
        }
        for h, label, p in predictions
    ]  # fmt: skip
    upsert(
        session,
        HeldOutPrediction,
        rows,
        keys=("version_id", "content_hash"),
        update=("label", "confidence", "answer_label", "answer_confidence"),
    )
