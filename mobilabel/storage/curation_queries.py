"""What likely mistakes, near-duplicate groups and "more like this" read: the backbone the library is
embedded with, the labels given to its images (answers, accepted labels, the classes a folder may name),
what a version that did not train on an answer says of it, and the library's current results by id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .class_queries import class_names
from .classes import RESERVED
from .states import ResultStatus
from .tables import Acceptance, Correction, Embedding, HeldOutPrediction, ModelVersion, Result, TrainedAnswer
from .versions import IMAGENET_PREFIX

_IDS_PER_QUERY = 1000


def library_backbone(session: Session) -> str | None:
    """The backbone with the most stored embeddings (the one the library was last embedded with), or None."""
    return session.scalar(
        select(Embedding.backbone).group_by(Embedding.backbone).order_by(func.count().desc(), Embedding.backbone).limit(1)
    )


@dataclass(frozen=True)
class GivenLabels:
    """The labels likely mistakes check, by content hash, and the names a folder can give."""

    answers: dict[str, str]  # the standing answer, ``skip`` included (a person not sure: nothing to check)
    kept: dict[str, str]  # of those answers, the ones kept against a model label in the mistakes list: that label
    accepted: dict[str, str]  # the label `mobilabel accept` accepted (a person's answer wins over it)
    classes: set[str]  # the active own classes and the active version's, unless it is ImageNet's (its 1,000 are not yours)


def given_labels(session: Session) -> GivenLabels:
    """Every standing answer (and the model label each kept one was kept against) and accepted label, and the
    class names a folder's name may be."""
    answers: dict[str, str] = {}
    kept: dict[str, str] = {}
    for h, label, against in session.execute(select(Correction.content_hash, Correction.label, Correction.kept_against)):
        if h:
            answers[str(h)] = str(label)
            if against is not None:
                kept[str(h)] = str(against)
    accepted = {str(h): str(label) for h, label in session.execute(select(Acceptance.content_hash, Acceptance.label))}
    active = session.execute(select(ModelVersion.id, ModelVersion.classes).where(ModelVersion.active.is_(True))).first()
    trained = {str(c) for c in active[1]} if active is not None and not active[0].startswith(IMAGENET_PREFIX) else set()
    return GivenLabels(answers, kept, accepted, (set(class_names(session)) | trained) - set(RESERVED))


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


@dataclass(frozen=True)
class HeldOutView:
    """What a version that did not train on an answer says of it: its top label and that label's calibrated
    probability, and the calibrated probability of the answered label."""

    label: str
    confidence: float
    answer_confidence: float
    out_of_fold: bool  # from a fit without the answer (the version trained on it), not the version itself


def held_out_views(session: Session, version_id: str, answers: Mapping[str, str]) -> dict[str, HeldOutView]:
    """By content hash, ``version_id``'s held-out view of each of ``answers`` (content hash -> answered label):
    for an answer it was trained on, its stored out-of-fold prediction (``HeldOutPrediction``); for one it was
    not, its own result (the first ok row; the answer's probability from its top-k). Left out where the answer's
    probability is unknown: an answer changed since the fit to a label other than the fit's top one, a
    prediction stored before migration 0018 (unless its top label is the answer), a top-k without the answer."""
    wanted = sorted(answers)
    views: dict[str, HeldOutView] = {}
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        trained = set(
            session.scalars(
                select(TrainedAnswer.content_hash).where(
                    TrainedAnswer.version_id == version_id, TrainedAnswer.content_hash.in_(chunk)
                )
            )
        )
        predictions = session.execute(
            select(
                HeldOutPrediction.content_hash,
                HeldOutPrediction.label,
                HeldOutPrediction.confidence,
                HeldOutPrediction.answer_label,
                HeldOutPrediction.answer_confidence,
            ).where(HeldOutPrediction.version_id == version_id, HeldOutPrediction.content_hash.in_(sorted(trained)))
        )
        for content_hash, label, confidence, fitted, fitted_p in predictions:
            answer = answers[content_hash]
            # The answer's probability is known for the answer fitted against, or when the fit's top label is the answer.
            given = fitted_p if fitted == answer else confidence if label == answer else None
            if given is not None:
                views[str(content_hash)] = HeldOutView(str(label), float(confidence), float(given), True)
        results = session.execute(
            select(Result.content_hash, Result.label, Result.confidence, Result.top_k)
            .where(
                Result.model_version_id == version_id,
                Result.status == ResultStatus.OK,
                Result.content_hash.in_([h for h in chunk if h not in trained]),
            )
            .order_by(Result.id)
        )
        seen: set[str] = set()
        for content_hash, label, confidence, top_k in results:
            if content_hash in seen or label is None or confidence is None:
                continue
            seen.add(content_hash)
            answer = answers[content_hash]
            given = next((float(t["confidence"]) for t in top_k or [] if t.get("label") == answer), None)
            if given is not None:
                views[str(content_hash)] = HeldOutView(str(label), float(confidence), given, False)
    return views
