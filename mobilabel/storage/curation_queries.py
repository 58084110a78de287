"""What likely mistakes, near-duplicate groups and "more like this" read: the backbone the library is
embedded with, the answers standing on its images, and its current results by id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .classes import SKIP
from .states import ResultStatus
from .tables import Correction, Embedding, Result

_IDS_PER_QUERY = 1000


def library_backbone(session: Session) -> str | None:
    """The backbone with the most stored embeddings (the one the library was last embedded with), or None."""
    return session.scalar(
        select(Embedding.backbone).group_by(Embedding.backbone).order_by(func.count().desc(), Embedding.backbone).limit(1)
    )


def standing_answers(session: Session) -> dict[str, str]:
    """content hash -> the answer standing on it, every answer but ``skip`` (not sure: no label to check)."""
    rows = session.execute(select(Correction.content_hash, Correction.label).where(Correction.label != SKIP))
    return {str(h): str(label) for h, label in rows if h is not None}


@dataclass(frozen=True)
class ResultLabel:
    """A current result's place and labels: the model's and, if any, the standing answer's."""

    result_id: int
    image_path: str
    content_hash: str | None
    model_label: str | None
    answer: str | None


def result_labels(session: Session, result_ids: Sequence[int]) -> dict[int, ResultLabel]:
    """The results of ``result_ids`` that exist, by id, with their standing answers."""
    found: dict[int, ResultLabel] = {}
    for start in range(0, len(result_ids), _IDS_PER_QUERY):
        rows = session.execute(
            select(Result.id, Result.image_path, Result.content_hash, Result.label, Correction.label)
            .outerjoin(Correction, Correction.content_hash == Result.content_hash)
            .where(Result.id.in_(list(result_ids[start : start + _IDS_PER_QUERY])))
        )
        found.update({r[0]: ResultLabel(r[0], r[1], r[2], r[3], r[4]) for r in rows})
    return found


def library_signature(session: Session, backbone: str) -> tuple[int, int]:
    """(images, largest result id) of the library embedded under ``backbone`` (as
    ``embedding_queries.iter_library_embeddings`` reads it): changes whenever an image is labelled,
    relabelled or pruned, so an index built from the library can tell it is stale."""
    count, largest = session.execute(
        select(func.count(), func.max(Result.id))
        .select_from(Result)
        .join(Embedding, (Embedding.backbone == backbone) & (Embedding.content_hash == Result.content_hash))
        .where(Result.is_current, Result.status == ResultStatus.OK)
    ).one()
    return int(count), int(largest or 0)
