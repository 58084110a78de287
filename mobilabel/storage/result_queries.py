"""Label results read back: filtered and sorted, per job, by content; the path patterns of every filter."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, UnaryExpression, and_, exists, func, select
from sqlalchemy.orm import Session

from ..object_paths import SCHEME
from .pathcodec import ENCODED_PREFIX, printable, to_stored
from .results import ResultRecord
from .review_state import in_review_states
from .states import ImageOutcome, ResultStatus
from .tables import Correction, JobImage, Result

SORT_KEYS: dict[str, UnaryExpression[Any]] = {
    "path": Result.image_path.asc(),
    "label": Result.label.asc(),
    "confidence": Result.confidence.asc(),
    "-confidence": Result.confidence.desc(),
    "time": Result.updated_at.asc(),
    "-time": Result.updated_at.desc(),
}
_HASHES_PER_QUERY = 1000


def labelled_contents(session: Session, content_hashes: Sequence[str], model_version_id: str) -> dict[str, ResultRecord]:
    """For each of ``content_hashes`` that ``model_version_id`` already labelled (at any path), one such result.

    For a driver to give a copy of a labelled file its row without a second inference: one
    inference per (content hash, model version). The records carry the stored path; replace it.
    """
    rows = session.execute(
        select(
            Result.content_hash,
            Result.image_path,
            Result.content_id,
            Result.label,
            Result.confidence,
            Result.top_k,
            Result.warning,
        )
        .where(
            Result.model_version_id == model_version_id,
            Result.status == ResultStatus.OK,
            Result.content_hash.in_(list(set(content_hashes))),
        )
        .order_by(Result.id)
    )
    return {
        str(content_hash): ResultRecord(
            path, content_id, ResultStatus.OK, label, confidence, top_k, content_hash=content_hash, warning=warning
        )
        for content_hash, path, content_id, label, confidence, top_k, warning in rows
    }


def ok_fingerprints(session: Session, model_version_id: str, paths: Sequence[str]) -> dict[str, str | None]:
    """The stored fingerprint (``content_id``) of each of ``paths`` that has an ok row for the version."""
    rows = session.execute(
        select(Result.image_path, Result.content_id).where(
            Result.model_version_id == model_version_id, Result.status == ResultStatus.OK, Result.image_path.in_(list(paths))
        )
    )
    return {str(path): content_id for path, content_id in rows}


@dataclass(frozen=True)
class ResultFilter:
    job_id: int | None = None
    label: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    path_pattern: str | None = None
    status: str | None = None
    model_version_id: str | None = None
    sort: str = "path"
    limit: int | None = None
    # False: one row per image, its current one (storage.current); True (or a version given): every (image, version) row.
    all_versions: bool = False
    unreviewed: bool = False  # only images whose content has no answer (a class, other or skip)
    review_states: tuple[str, ...] | None = None  # only images in these review states (``review_state``); None: all

    @property
    def narrows(self) -> bool:
        """Whether any filter is set (sort, limit and ``all_versions`` only order or widen what is shown)."""
        chosen = (self.job_id, self.label, self.min_confidence, self.max_confidence, self.path_pattern, self.status)
        return any(v is not None for v in (*chosen, self.model_version_id, self.review_states)) or self.unreviewed


def query_results(session: Session, where: ResultFilter) -> list[Result]:
    """The rows ``where`` asks for, sorted and limited; check it first with ``filters.check_filter``."""
    return list(session.scalars(_results_statement(where)))


def results_statement(where: ResultFilter) -> Select[Result]:
    """The filtered and sorted SELECT, for callers that page through it by key or stream it.

    Raises ``ValueError`` for an unknown sort.
    """
    return _results_statement(where)


def verified_labels(session: Session, content_hashes: Iterable[str | None]) -> dict[str, str]:
    """content hash -> the label a person verified for that content (mobilabel correct), for those that have one.

    Asked a thousand hashes per query: one IN list per export of millions of rows would pass
    PostgreSQL's 65,535 and SQLite's 32,766 bound parameters.
    """
    wanted = list({h for h in content_hashes if h is not None})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        some = wanted[start : start + _HASHES_PER_QUERY]
        rows = session.execute(select(Correction.content_hash, Correction.label).where(Correction.content_hash.in_(some)))
        found.update((str(content_hash), label) for content_hash, label in rows)
    return found


def _results_statement(where: ResultFilter) -> Select[Result]:
    if where.sort not in SORT_KEYS:
        raise ValueError(f"unknown sort {where.sort!r}; choose one of {', '.join(SORT_KEYS)}")
    every_row = where.all_versions or where.model_version_id is not None
    statement = select(Result)
    if where.job_id is not None:
        # Every row: exactly those the job wrote or kept. Current: the job's images, whichever version labels them now.
        statement = statement.where(in_job(where.job_id) if every_row else covered_by(where.job_id))
    if where.label is not None:
        statement = statement.where(Result.label == where.label)
    if where.min_confidence is not None:
        statement = statement.where(Result.confidence >= where.min_confidence)
    if where.max_confidence is not None:
        statement = statement.where(Result.confidence <= where.max_confidence)
    if where.path_pattern:
        statement = statement.where(path_matches(where.path_pattern))
    if where.status is not None:
        statement = statement.where(Result.status == where.status)
    if where.model_version_id is not None:
        statement = statement.where(Result.model_version_id == where.model_version_id)
    if where.unreviewed:
        statement = statement.where(~exists().where(Correction.content_hash == Result.content_hash))
    if where.review_states is not None:
        statement = statement.where(in_review_states(where.review_states))
    if not every_row:
        # The other filters then apply to the current row: --label daisy lists images that are daisies now.
        statement = statement.where(Result.is_current)
    statement = statement.order_by(SORT_KEYS[where.sort], Result.id)
    if where.limit is not None:
        statement = statement.limit(where.limit)
    return statement


def in_job(job_id: int) -> Any:
    """Whether a result row is one a job wrote or found unchanged (its membership names the row's image and version)."""
    return exists().where(
        JobImage.job_id == job_id, JobImage.image_path == Result.image_path, JobImage.model_version_id == Result.model_version_id
    )


def covered_by(job_id: int) -> Any:
    """Whether a result row's image is one a job covered (whichever version's row it is).

    A correlated EXISTS on the membership's key (job, path), not ``IN`` the job's paths: a
    page sorted on an index then walks it in order and probes each row's membership, where
    ``IN`` reads and sorts every image of the job first.
    """
    return exists().where(JobImage.job_id == job_id, JobImage.image_path == Result.image_path)


def _job_rows(job_id: int, outcome: str) -> Any:
    return and_(
        JobImage.job_id == job_id,
        JobImage.outcome == outcome,
        JobImage.image_path == Result.image_path,
        JobImage.model_version_id == Result.model_version_id,
    )


def label_counts(session: Session, job_id: int) -> dict[str, int]:
    """How many images of a job got each label there, most frequent first."""
    count = func.count()
    rows = session.execute(
        select(Result.label, count)
        .join(JobImage, _job_rows(job_id, ImageOutcome.LABELLED))
        .group_by(Result.label)
        .order_by(count.desc(), Result.label)
    )
    return {str(label): n for label, n in rows}


def failures(session: Session, job_id: int) -> list[tuple[str, str]]:
    """(path, reason) of each image a job could not label."""
    rows = session.execute(
        select(Result.image_path, Result.error).join(JobImage, _job_rows(job_id, ImageOutcome.FAILED)).order_by(Result.image_path)
    )
    return [(path, error or "") for path, error in rows]


def path_matches(pattern: str) -> Any:
    """Whether a result's stored path matches a shell-style pattern (see ``glob_to_like``).

    A pattern from the root is a prefix (the text before its first wildcard) and is also given as
    a range of the path, ``prefix <= path < prefix's successor``, which the path index serves in
    order: exact because paths compare byte by byte (SQLite's default; on PostgreSQL the column's
    collation "C", migration 0010). Its undecodable bytes make it a ``bytes:`` form, as such names
    are stored (storage.pathcodec); another pattern's are matched as stored, ``\\xNN``.
    """
    text = _stored_pattern(pattern)
    like = Result.image_path.like(glob_to_like(text), escape="\\")
    if not _anchored(text):
        return like
    prefix = re.split(r"[*?]", text, maxsplit=1)[0]
    after = _successor(prefix)
    return (
        and_(Result.image_path >= prefix, like)
        if after is None
        else and_(Result.image_path >= prefix, Result.image_path < after, like)
    )


def glob_to_like(pattern: str) -> str:
    """A shell-style pattern (``*``, ``?``) as a LIKE pattern, with ``\\`` escaping ``%`` and ``_``.

    Stored paths are absolute, so a pattern that starts with ``/`` (or ``bytes:/``) names a folder
    or file from the root and matches from the start of the path: ``/photos/2024/*`` is everything
    under /photos/2024; so does one that starts with ``s3://`` (``s3://bucket/2024/*``). Any other pattern matches
    anywhere in the path (``*/2024/*``, ``IMG_*``).
    """
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = escaped.replace("*", "%").replace("?", "_")
    return like if like.startswith("%") or _anchored(pattern) else f"%{like}"


def _anchored(pattern: str) -> bool:
    return pattern.startswith(("/", ENCODED_PREFIX + "/", SCHEME))


def _stored_pattern(pattern: str) -> str:
    if pattern.startswith("/"):
        try:
            return to_stored(pattern)
        except ValueError:  # a surrogate no file name holds: nothing stored can match it literally
            pass
    return printable(pattern)


def _successor(prefix: str) -> str | None:
    """The least text above every text that starts with ``prefix`` (code point, so UTF-8 byte, order);
    None if there is none (``prefix`` empty or ending in U+10FFFF)."""
    if not prefix or prefix[-1] == "\U0010ffff":
        return None
    following = ord(prefix[-1]) + 1
    return prefix[:-1] + chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)


def label_distribution(session: Session, job_id: int) -> list[tuple[str | None, str, int]]:
    """(label, status, images) of the job's results, those it wrote or found unchanged, most first."""
    count = func.count()
    rows = session.execute(
        select(Result.label, Result.status, count)
        .where(in_job(job_id))
        .group_by(Result.label, Result.status)
        .order_by(count.desc(), Result.label)
    )
    return [(label, status, n) for label, status, n in rows]


def result_identity(session: Session, result_id: int) -> tuple[str, str | None] | None:
    """(image path, content hash) of a result row; None if there is no such row."""
    row = session.execute(select(Result.image_path, Result.content_hash).where(Result.id == result_id)).first()
    return None if row is None else (row[0], row[1])
