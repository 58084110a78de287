"""Which answers a version was trained on, written when it is registered (``accuracy_queries.held_out`` reads
them), with the out-of-fold label of each (``training.out_of_fold``) where one was computed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from .tables import TrainedAnswer
from .upsert import upsert


def record_trained(
    session: Session, version_id: str, content_hashes: Iterable[str], out_of_fold: Mapping[str, str] | None = None
) -> None:
    """Record that ``version_id`` was trained on the answers with ``content_hashes``; ``out_of_fold`` maps
    some of them to the label a model trained without them gave them."""
    labels = out_of_fold or {}
    rows = [{"version_id": version_id, "content_hash": h, "out_of_fold": labels.get(h)} for h in sorted(set(content_hashes))]
    upsert(session, TrainedAnswer, rows, keys=("version_id", "content_hash"), update=("out_of_fold",))
