"""Corrections: labels a person verified, keyed to the image content they were made on.

The key is the content hash (mobilabel.hashing), so a verified label follows its file
through a rename, and a file edited since no longer matches it: the correction is then
*stale*, listed as such and never trained on. The path it was made on is kept with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from ..errors import MobilabelError
from ..hashing import hash_file
from ..imaging import content_identity
from ..object_paths import source_path
from ..object_store import ObjectStoreError
from .class_queries import class_names
from .classes import RESERVED, ClassError, checked_name, ensure_classes
from .database import rows_changed
from .filters import known_labels, nearest_hint
from .paths import absolute_path
from .tables import AnswerHistory, Correction, Result, ReviewLease, utcnow
from .upsert import upsert

# What a correction's content is doing now, as `correct --list` shows it.
CURRENT = "current"  # a file with this content is where the correction (or a labelled rename) says
STALE = "stale"  # no known file has this content any more (edited, deleted or renamed unseen)
AUDIT = "audit"  # a review lease's reason: the image was drawn uniformly from the unreviewed rest
CHECK = "check"  # a review lease's reason: the image was drawn uniformly from the set `accept` would take
_CLASSES_LISTED = 20
_HASHES_PER_STATEMENT = 1000
NEW_CLASS_HINT = "allow new classes"  # neutral: each interface names its own switch (CLI flag, API field)


class CorrectionError(MobilabelError):
    """A correction that cannot be read, stored or found as given (one file, a CSV of them, a label, a
    target to delete); the message says which and why."""


@dataclass(frozen=True)
class CorrectionRecord:
    """A verified label to store; the content hash is read from the file when not given."""

    image_path: str
    label: str
    content_hash: str | None = None
    kept_against: str | None = None  # the model label this answer keeps its label against (the mistakes list's keep)


@dataclass(frozen=True)
class VerifiedLabel:
    """A stored correction and where its content is now.

    ``image_path`` is a file holding the content (the one the correction was made on if it
    still does, else a labelled file with the same hash), or, when stale, where it was made.
    """

    content_hash: str | None
    image_path: str
    label: str
    made_on: str
    state: str
    updated_at: datetime
    reviewer: str | None = None  # who gave the standing answer (None: before answers recorded it)
    audit: bool = False  # whether it answered an audit lease: held out of training, a measure of accuracy
    answer_group: str | None = None  # the group answered at once with it (near-duplicates, a selection), if any
    is_check: bool = False  # whether it answered a check lease: it serves only `accept`'s certificate


def save_corrections(
    session: Session,
    records: Sequence[CorrectionRecord],
    new_classes: bool = False,
    new_class_hint: str = NEW_CLASS_HINT,
    reviewer: str | None = None,
    group: str | None = None,
) -> int:
    """Upsert answers: the same content answered again keeps one row, with the newest label, path and
    reviewer; every answer is also appended to the answer history, so a changed one keeps its earlier ones.

    A label must be a class (``mobilabel classes``), a class of some model version (it becomes a
    class), or a reserved answer (``other``, ``skip``); with ``new_classes`` an unknown one is created
    as a class. An answer to an image the review queue leased as an audit is marked ``audit``, one leased as a
    check ``is_check``. ``group``
    notes, on every row written, that these answers were given at once for a group (one answer per member).
    Raises ``CorrectionError`` (every problem listed, nothing stored) for an unknown or retired
    label or a file that cannot be read; ``new_class_hint`` says there how the caller's interface
    allows a new class (the CLI's flag, the API's body field). Returns the rows written.
    """
    labels = {r.label for r in records}
    _check_labels(session, labels, new_classes, new_class_hint)
    now = utcnow()
    latest: dict[str, tuple[str, str, str | None]] = {}
    for record in records:  # one statement may not touch a key twice (PostgreSQL refuses it): the last label wins
        content_hash = record.content_hash or _hash(record.image_path)
        latest[content_hash] = (absolute_path(record.image_path), record.label, record.kept_against)
    audits = leased_as(session, list(latest), AUDIT)
    checks = leased_as(session, list(latest), CHECK)
    rows = [
        {
            "content_hash": content_hash, "image_path": path, "label": label, "created_at": now, "updated_at": now,
            "reviewer": reviewer, "audit": content_hash in audits, "answer_group": group, "is_check": content_hash in checks,
            "kept_against": kept,
        }
        for content_hash, (path, label, kept) in latest.items()
    ]  # fmt: skip
    upsert(
        session,
        Correction,
        rows,
        keys=("content_hash",),
        update=("image_path", "label", "updated_at", "reviewer", "audit", "answer_group", "is_check", "kept_against"),
    )
    session.execute(
        insert(AnswerHistory),
        [
            {k: row[k] for k in ("content_hash", "image_path", "label", "reviewer", "audit", "answer_group")}
            | {"answered_at": now}
            for row in rows
        ],
    )
    return len(rows)


def _check_labels(session: Session, labels: set[str], new_classes: bool, new_class_hint: str) -> None:
    """Refuse a retired class, or (unless ``new_classes``) an unknown one; make every label used a class."""
    classes, retired = set(class_names(session)), set(class_names(session, retired=True))
    if used := sorted(labels & retired):
        raise CorrectionError(
            f"class {used[0]!r} is retired (answers kept, not trained on); bring it back with: mobilabel classes restore {used[0]}"
        )
    # ImageNet's 1,000 categories are what the first `label` suggests, not the user's classes: answering
    # "pot" must not make a class of it unasked (issue 26's walkthrough did).
    model_labels = known_labels(session, imagenet=False)
    unknown = sorted(labels - classes - model_labels - set(RESERVED))
    if unknown and not new_classes:
        hints = "; ".join(f"{label!r}{nearest_hint(label, classes | model_labels | set(RESERVED))}" for label in unknown[:10])
        hints += f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        listed = ", ".join([*sorted(classes)[:_CLASSES_LISTED], *RESERVED])
        raise CorrectionError(
            f"no class or trained version has the label{'s' if len(unknown) > 1 else ''} {hints}; "
            f"{new_class_hint} to make {'them classes' if len(unknown) > 1 else 'it a class'} (classes: {listed})"
        )
    try:
        for label in labels - classes - set(RESERVED):
            checked_name(label)
    except ClassError as exc:
        raise CorrectionError(str(exc)) from exc
    ensure_classes(session, labels)


def leased_as(session: Session, content_hashes: Sequence[str], reason: str) -> set[str]:
    """Which of ``content_hashes`` the review queue last offered for ``reason`` (``AUDIT``, ``CHECK``), to whoever."""
    found: set[str] = set()
    for start in range(0, len(content_hashes), _HASHES_PER_STATEMENT):
        chunk = content_hashes[start : start + _HASHES_PER_STATEMENT]
        found.update(
            h for h in session.scalars(
                select(ReviewLease.content_hash).where(ReviewLease.content_hash.in_(chunk), ReviewLease.reason == reason)
            ) if h is not None
        )  # fmt: skip
    return found


def save_correction(
    session: Session,
    record: CorrectionRecord,
    new_class: bool = False,
    new_class_hint: str = NEW_CLASS_HINT,
    reviewer: str | None = None,
) -> tuple[VerifiedLabel, bool]:
    """Upsert one correction (as ``save_corrections``) and read it back: the stored label, as
    listed, and whether it is new (no label was verified for this content before).

    Raises ``CorrectionError`` as ``save_corrections`` does.
    """
    content_hash = record.content_hash or _hash(record.image_path)
    existed = session.scalar(select(Correction.id).where(Correction.content_hash == content_hash)) is not None
    save_corrections(
        session,
        [CorrectionRecord(record.image_path, record.label, content_hash, record.kept_against)],
        new_classes=new_class,
        new_class_hint=new_class_hint,
        reviewer=reviewer,
    )
    stored = session.scalars(select(Correction).where(Correction.content_hash == content_hash)).one()
    return _verified(session, stored), not existed


def list_corrections(session: Session) -> list[VerifiedLabel]:
    """Every correction with where its content is now and whether it is stale, by path.

    Reads each candidate file to compare its hash, so an edit the database has not seen
    yet still makes a correction stale.
    """
    return [_verified(session, c) for c in session.scalars(select(Correction).order_by(Correction.image_path, Correction.id))]


def usable_corrections(session: Session) -> list[VerifiedLabel]:
    """The verified labels training may use: those whose content is in a file now (not stale)."""
    return [c for c in list_corrections(session) if c.state == CURRENT]


def delete_corrections(session: Session, target: str) -> int:
    """Delete the correction of a file (by its content, or the path it was made on) or of a content hash prefix.

    Raises ``CorrectionError`` when nothing matches; returns the rows deleted.
    """
    conditions = [Correction.image_path == absolute_path(target)]
    if os.path.isfile(target):
        conditions.append(Correction.content_hash == _hash(target))
    elif len(target) >= 6 and all(c in "0123456789abcdef" for c in target.lower()):
        conditions.append(Correction.content_hash.startswith(target.lower()))
    deleted = rows_changed(session.execute(delete(Correction).where(or_(*conditions))))
    if not deleted:
        raise CorrectionError(f"no verified label for {target} (see `mobilabel correct --list`, or `GET /api/corrections`)")
    return deleted


def _verified(session: Session, correction: Correction) -> VerifiedLabel:
    path = _file_with_content(session, correction)
    return VerifiedLabel(
        correction.content_hash,
        path or correction.image_path,
        correction.label,
        correction.image_path,
        CURRENT if path else STALE,
        correction.updated_at,
        correction.reviewer,
        correction.audit,
        correction.answer_group,
        correction.is_check,
    )


def _hash(path: str) -> str:
    try:
        return hash_file(path)
    except OSError as exc:
        raise CorrectionError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _file_with_content(session: Session, correction: Correction) -> str | None:
    """A file that holds the correction's content now: where it was made, else a labelled file with its hash."""
    if correction.content_hash is None:
        return None
    others: list[str] = list(
        session.scalars(
            select(Result.image_path)
            .where(Result.content_hash == correction.content_hash, Result.image_path != correction.image_path)
            .distinct()
            .order_by(Result.image_path)
        )
    )
    for path in (correction.image_path, *others):
        try:
            if _unchanged(session, path, correction.content_hash) or hash_file(path) == correction.content_hash:
                return path
        except (OSError, ObjectStoreError):  # gone; an object that changed is not read again here
            continue
    return None


def _unchanged(session: Session, path: str, content_hash: str) -> bool:
    """Whether a result recorded ``content_hash`` for ``path`` and the file's fingerprint (size,
    mtime) is still the one recorded with it: then the file is not read again (as labelling
    skips it). Listing re-read every corrected file before, on each review key press, so the step
    grew with every verified label (docs/benchmarks/review.md). Raises ``OSError`` if it is gone."""
    fingerprint = content_identity(source_path(path))
    return (
        session.scalar(
            select(Result.id)
            .where(Result.image_path == path, Result.content_hash == content_hash, Result.content_id == fingerprint)
            .limit(1)
        )
        is not None
    )
