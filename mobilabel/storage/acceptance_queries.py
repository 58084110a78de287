"""What `mobilabel accept` reads: the active version's held-out answers, the suggestions it may accept,
and the labels accepted so far. Querying only (``acceptances`` writes)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from .accuracy_queries import held_out
from .classes import SKIP
from .states import ResultStatus
from .tables import Acceptance, CheckRequest, Correction, HeldOutPrediction, Result


@dataclass(frozen=True)
class Scored:
    """An image content as a version labelled it: one of its paths, the label and its (calibrated) confidence."""

    content_hash: str
    image_path: str
    label: str
    confidence: float


def held_out_outcomes(session: Session, version_id: str) -> list[tuple[str, float, bool]]:
    """(label, confidence, right) of ``version_id`` on each held-out answer (not ``skip``, not a check answer: those
    certify only their own set, ``check_set``), and whether the answer
    agrees: its out-of-fold prediction where one is stored (an answer it was trained on, ``HeldOutPrediction``),
    else the label and confidence it gave an answer it was not trained on (a content labelled at several paths
    counts once)."""
    outcomes: dict[int, tuple[str, float, bool]] = {}
    predicted = session.execute(
        select(Correction.id, Correction.label, HeldOutPrediction.label, HeldOutPrediction.confidence)
        .join(HeldOutPrediction, HeldOutPrediction.content_hash == Correction.content_hash)
        .where(Correction.label != SKIP, ~Correction.is_check, HeldOutPrediction.version_id == version_id)
    )
    for correction_id, answer, label, confidence in predicted:
        outcomes[correction_id] = (label, confidence, answer == label)
    labelled = session.execute(
        select(Correction.id, Correction.label, Result.label, Result.confidence)
        .join(Result, Result.content_hash == Correction.content_hash)
        .where(
            Correction.label != SKIP,
            ~Correction.is_check,
            held_out(version_id),
            Result.model_version_id == version_id,
            Result.status == ResultStatus.OK,
            Result.confidence.is_not(None),
        )
        .order_by(Correction.id, Result.id)
    )
    for correction_id, answer, given, score in labelled:
        outcomes.setdefault(correction_id, (str(given), float(score or 0.0), answer == given))
    return list(outcomes.values())


def acceptable(session: Session, version_id: str, labels: Collection[str], threshold: float) -> dict[str, Scored]:
    """Content hash -> the current ok label of ``version_id`` with one of ``labels`` and a confidence of at least
    ``threshold``, for each content nobody answered (an answer, ``skip`` included, always wins); the
    first path by path order stands for copies of one content."""
    if not labels:
        return {}
    answered = exists().where(Correction.content_hash == Result.content_hash)
    rows = session.execute(
        select(Result.content_hash, Result.image_path, Result.label, Result.confidence)
        .where(
            Result.is_current,
            Result.model_version_id == version_id,
            Result.status == ResultStatus.OK,
            Result.content_hash.is_not(None),
            Result.label.in_(sorted(labels)),
            Result.confidence >= threshold,
            ~answered,
        )
        .order_by(Result.image_path, Result.id)
    )
    found: dict[str, Scored] = {}
    for content_hash, path, label, confidence in rows:
        found.setdefault(str(content_hash), Scored(str(content_hash), path, str(label), float(confidence or 0.0)))
    return found


@dataclass(frozen=True)
class Member:
    """An image content of a candidate set, in check order: the version's label and the check answer, if any."""

    content_hash: str
    image_path: str
    label: str
    confidence: float
    check_answer: str | None  # the check answer's label (``skip`` included); None: not checked yet


def candidate_confidences(session: Session, version_id: str) -> list[float]:
    """The calibrated confidence of ``version_id``'s current ok label of each content without an answer other than a
    check answer: what ``verification.candidate`` chooses λ from (a content at several paths counts once)."""
    return [member.confidence for member in check_set(session, version_id, 0.0)]


def check_set(session: Session, version_id: str, threshold: float) -> list[Member]:
    """The candidate set above ``threshold``: each content ``version_id`` labels now (current ok rows) with a confidence
    of at least ``threshold`` and no answer but a check answer, in check order (the content hash: a hash of the bytes,
    so a fixed random order that nothing the model says can sway), each with its check answer if any."""
    other = aliased(Correction)  # the outer query joins Correction for the check answer: this one is apart
    other_answer = exists().where(other.content_hash == Result.content_hash, ~other.is_check)
    rows = session.execute(
        select(Result.content_hash, Result.image_path, Result.label, Result.confidence, Correction.label)
        .outerjoin(Correction, Correction.content_hash == Result.content_hash)
        .where(
            Result.is_current,
            Result.model_version_id == version_id,
            Result.status == ResultStatus.OK,
            Result.content_hash.is_not(None),
            Result.label.is_not(None),
            Result.confidence >= threshold,
            ~other_answer,
        )
        .order_by(Result.content_hash, Result.image_path, Result.id)
    )
    found: dict[str, Member] = {}
    for content_hash, path, label, confidence, answer in rows:
        found.setdefault(str(content_hash), Member(str(content_hash), path, str(label), float(confidence or 0.0), answer))
    return list(found.values())


def check_request(session: Session, version_id: str) -> CheckRequest | None:
    """What `accept` last asked the queue to check for ``version_id``, if it stands."""
    return session.get(CheckRequest, version_id)


def unanswered_count(session: Session, version_id: str) -> int:
    """How many image contents ``version_id`` labels now (current ok rows) that nobody answered: what accept could take."""
    answered = exists().where(Correction.content_hash == Result.content_hash)
    statement = select(func.count(func.distinct(Result.content_hash))).where(
        Result.is_current,
        Result.model_version_id == version_id,
        Result.status == ResultStatus.OK,
        Result.content_hash.is_not(None),
        ~answered,
    )
    return session.scalar(statement) or 0


def accepted_labels(session: Session) -> dict[str, str]:
    """Content hash -> the label accepted for it, for every acceptance standing."""
    return {h: label for h, label in session.execute(select(Acceptance.content_hash, Acceptance.label))}


def answered_contents(session: Session, content_hashes: Collection[str]) -> set[str]:
    """Those of ``content_hashes`` that a person answered."""
    wanted = sorted(content_hashes)
    found: set[str] = set()
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        chunk = wanted[start : start + _HASHES_PER_QUERY]
        found.update(session.scalars(select(Correction.content_hash).where(Correction.content_hash.in_(chunk))))
    return found


_HASHES_PER_QUERY = 1000  # bound parameters per IN list, well under SQLite's and PostgreSQL's limits
