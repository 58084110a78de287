"""Audit answers against a version's labels, read: what the estimated accuracy on the unreviewed rest counts;
which answers a version was trained on, and their out-of-fold predictions (``HeldOutPrediction``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from .classes import SKIP
from .states import ResultStatus
from .tables import Correction, HeldOutPrediction, ModelVersion, Result, TrainedAnswer

_HASHES_PER_QUERY = 1000


def audit_outcomes(session: Session, version_id: str) -> tuple[int, int]:
    """(right, answered): the audit answers (not ``skip``) whose content ``version_id`` labelled, and how many
    of them it labelled as the answer says. A content labelled at several paths counts once."""
    rows = session.execute(
        select(Correction.id, Correction.label, Result.label)
        .join(Result, Result.content_hash == Correction.content_hash)
        .where(
            Correction.audit, Correction.label != SKIP, Result.model_version_id == version_id, Result.status == ResultStatus.OK
        )
        .order_by(Correction.id, Result.id)
    )
    outcome: dict[int, bool] = {}
    for correction_id, answer, label in rows:
        outcome.setdefault(correction_id, answer == label)
    return sum(outcome.values()), len(outcome)


def held_out(version_id: str) -> ColumnElement[bool]:
    """A condition on ``Correction``: its content is not one ``version_id`` was trained on."""
    return ~exists().where(TrainedAnswer.version_id == version_id, TrainedAnswer.content_hash == Correction.content_hash)


def trained_hashes(session: Session, version_id: str) -> set[str]:
    """The contents of the answers ``version_id`` was trained on."""
    return set(session.scalars(select(TrainedAnswer.content_hash).where(TrainedAnswer.version_id == version_id)))


def version_labels(session: Session, version_id: str, content_hashes: Sequence[str]) -> dict[str, str]:
    """The label ``version_id`` gave each of ``content_hashes`` it labelled (an ok row at any path; the first)."""
    labels: dict[str, str] = {}
    wanted = sorted(set(content_hashes))
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        rows = session.execute(
            select(Result.content_hash, Result.label)
            .where(
                Result.model_version_id == version_id,
                Result.status == ResultStatus.OK,
                Result.content_hash.in_(wanted[start : start + _HASHES_PER_QUERY]),
            )
            .order_by(Result.id)
        )
        for content_hash, label in rows:
            if content_hash is not None and label is not None:
                labels.setdefault(content_hash, label)
    return labels


def trained_on_count(session: Session, version_id: str) -> int:
    """How many answers ``version_id`` was trained on (shown apart from its held-out figures)."""
    return session.scalar(select(func.count()).where(TrainedAnswer.version_id == version_id)) or 0


def out_of_fold_cells(session: Session, version_id: str) -> list[tuple[str, str, int]]:
    """(answer, out-of-fold label, answers) over the answers ``version_id`` was trained on that have an
    out-of-fold prediction: they join its held-out figures, counted apart."""
    rows = session.execute(
        select(Correction.label, HeldOutPrediction.label, func.count())
        .join(HeldOutPrediction, HeldOutPrediction.content_hash == Correction.content_hash)
        .where(HeldOutPrediction.version_id == version_id, ~held_out(version_id))
        .group_by(Correction.label, HeldOutPrediction.label)
    )
    return [(answer, str(label), n) for answer, label, n in rows]


def out_of_fold_as(version_id: str, label: str) -> ColumnElement[bool]:
    """A condition on ``Result``: ``version_id`` was trained on its content, whose out-of-fold label is ``label``."""
    trained = exists().where(TrainedAnswer.version_id == version_id, TrainedAnswer.content_hash == Result.content_hash)
    predicted = exists().where(
        HeldOutPrediction.version_id == version_id,
        HeldOutPrediction.content_hash == Result.content_hash,
        HeldOutPrediction.label == label,
    )
    return and_(trained, predicted)


def answers_new_to(session: Session, version_id: str, content_hashes: Collection[str]) -> int:
    """How many of the answers with ``content_hashes`` ``version_id`` did not learn as they stand now: answers it
    was not trained on, and answers given again since it was registered (their label may have changed)."""
    registered = session.scalar(select(ModelVersion.created_at).where(ModelVersion.id == version_id))
    wanted = sorted(set(content_hashes))
    new = set(wanted) - trained_hashes(session, version_id)
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        chunk = wanted[start : start + _HASHES_PER_QUERY]
        since = Correction.updated_at > registered if registered is not None else Correction.id.is_(None)
        new.update(
            str(h) for h in session.scalars(select(Correction.content_hash).where(since, Correction.content_hash.in_(chunk)))
        )
    return len(new)
