"""Label results: written a batch per transaction, keyed on (image, model version)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import Table
from sqlalchemy.orm import Session

from . import membership
from .current import lock_every_path, lock_paths, refresh_current
from .pathcodec import printable
from .states import ImageOutcome, ResultStatus
from .tables import Result, utcnow
from .upsert import upsert

_UPDATED_ON_CONFLICT = (
    "content_id", "content_hash", "label", "confidence", "top_k", "job_id", "status", "error", "warning", "updated_at"
)  # fmt: skip


@dataclass(frozen=True)
class ResultRecord:
    """One image's outcome, before it is stored."""

    image_path: str
    content_id: str | None
    status: ResultStatus
    label: str | None = None
    confidence: float | None = None
    top_k: list[dict[str, Any]] | None = None
    error: str | None = None
    content_hash: str | None = None  # mobilabel.hashing of the bytes read; None if they could not be read
    warning: str | None = None  # a decoder's warning about an image it still read whole
    # The content's pooled features (D,) from the forward pass that labelled it, kept by storage.embedding_writes
    # (not in the results table); None for a copy, a failure, or an engine that gives logits only.
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


def write_results(
    session: Session, records: Sequence[ResultRecord], model_version_id: str, job_id: int | None, keep_existing: bool = False
) -> None:
    """Upsert a batch: labelling the same image with the same version again replaces its row
    (or, with ``keep_existing``, leaves an existing row as it is). Each image's current row
    (storage.current) is set right, and with a ``job_id`` the job's membership (each image and
    its outcome) recorded, in the same transaction."""
    records = _last_per_path(records)
    rows = _rows(records, model_version_id, job_id)
    lock_paths(session, [r.image_path for r in records])
    upsert(session, Result, rows, keys=("image_path", "model_version_id"), update=() if keep_existing else _UPDATED_ON_CONFLICT)
    refresh_current(session, [r.image_path for r in records])
    if job_id is not None:
        outcomes = [
            (r.image_path, ImageOutcome.FAILED if r.status == ResultStatus.FAILED else ImageOutcome.LABELLED) for r in records
        ]
        membership.record_job_images(session, job_id, model_version_id, outcomes, keep_existing=keep_existing)


@dataclass(frozen=True)
class RankedLabels:
    """One version's labels of N images as columns (a quick head relabelling a chunk of the library): image i at
    ``image_paths[i]``, fingerprint ``content_ids[i]``, content ``content_hashes[i]``, its top k classes
    ``ranked[i]`` (N, k) int, indices into ``classes``, best first, with their probabilities ``confidences[i]``
    (N, k) float. No object per image: ``insert_results`` writes the columns as they are."""

    image_paths: Sequence[str]
    content_ids: Sequence[str | None]
    content_hashes: Sequence[str]
    classes: Sequence[str]
    ranked: np.ndarray
    confidences: np.ndarray

    def __len__(self) -> int:
        return len(self.image_paths)

    def records(self) -> list[ResultRecord]:
        """The same labels as one ``ResultRecord`` per image (``write_results`` takes those)."""
        return [
            ResultRecord(
                path,
                content_id,
                ResultStatus.OK,
                self.classes[top[0]],
                p[0],
                [{"label": self.classes[i], "confidence": q} for i, q in zip(top, p, strict=True)],
                content_hash=content_hash,
            )
            for path, content_id, content_hash, top, p in zip(
                self.image_paths,
                self.content_ids,
                self.content_hashes,
                self.ranked.tolist(),
                self.confidences.tolist(),
                strict=True,
            )
        ]


def insert_results(session: Session, labels: RankedLabels, model_version_id: str) -> None:
    """Rows of a version that has no row of these images yet and that this transaction goes on to activate (a
    quick head relabelling the library), written current, as plain rows: no conflict handling, no per-path
    locks, no current-row refresh, and no Python object per row (``_plain_rows``: each column bound as SQLAlchemy
    binds it, the constant ones once): on PostgreSQL one COPY, on SQLite one executemany of the driver.

    Written current because ``versions.activate_version``, called before this transaction commits, would make
    them so: each is its image's newest, labelled row of the active version (storage.current's rule). The
    activation then only makes the images' other rows not current, and each image's row is written once, where
    inserting it not current and flipping it at activation wrote it twice (index entries included). Until the
    commit no other transaction sees them, so `results` shows the suggestions as they were, and a refresh
    killed before it leaves nothing behind. Takes ``current.lock_every_path`` (PostgreSQL): a worker writing one of
    these images meanwhile would not see the new row and keep its own current too.

    Raises ``ValueError`` if a path comes twice; ``psycopg.errors.UniqueViolation`` (PostgreSQL's COPY, not
    wrapped by SQLAlchemy) or ``sqlalchemy.exc.IntegrityError`` (SQLite) if the version already has a row of one
    of the images."""
    if not len(labels):
        return
    if len(set(labels.image_paths)) != len(labels):  # one statement may not write a key twice (as _last_per_path)
        raise ValueError("insert_results: an image path comes twice")
    lock_every_path(session)
    table = Result.metadata.tables[Result.__tablename__]
    names, values = _plain_rows(session, table, labels, model_version_id)
    quoted = ", ".join(f'"{name}"' for name in names)
    if session.get_bind().dialect.name == "postgresql":
        import psycopg  # PostgreSQL's driver: not loaded where only SQLite is used

        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection), "the project's PostgreSQL driver is psycopg 3"
        with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)
    else:  # through SQLAlchemy's connection, so that "database is locked" becomes DatabaseLockedError as elsewhere
        marks = ", ".join("?" for _ in names)
        session.connection().exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', values)


def _plain_rows(
    session: Session, table: Table, labels: RankedLabels, model_version_id: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and the rows of ``labels`` as the driver takes them, each value bound as SQLAlchemy
    binds it (the stored path form, timestamps), so the rows read back as an INSERT's would; a column that is
    the same in every row is bound once. ``top_k`` is written as JSON text here, as ``json.dumps`` writes it
    (what the JSON type's bind does), from the class names' JSON computed once and each probability's repr:
    per row, what SQLAlchemy's bind of a list of dicts spent most of its time on."""
    dialect = session.get_bind().dialect
    now = utcnow()
    label_json = np.array([f'{{"label": {json.dumps(name)}, "confidence": ' for name in labels.classes], dtype=object)
    # Column by column over object arrays (numpy's loop adds the strings): no list or frame per row.
    reprs = [np.array(list(map(repr, labels.confidences[:, j].tolist())), dtype=object) for j in range(labels.ranked.shape[1])]
    top_k = "[" + label_json[labels.ranked[:, 0]] + reprs[0]
    for j in range(1, len(reprs)):
        top_k = top_k + "}, " + label_json[labels.ranked[:, j]] + reprs[j]
    varying: dict[str, Iterable[Any]] = {
        "image_path": labels.image_paths,
        "content_id": labels.content_ids,
        "content_hash": labels.content_hashes,
        "label": np.asarray(labels.classes, dtype=object)[labels.ranked[:, 0]].tolist(),
        "confidence": labels.confidences[:, 0].tolist(),
    }
    constant = {
        "status": ResultStatus.OK,
        "error": None,
        "warning": None,
        "model_version_id": model_version_id,
        "job_id": None,
        "created_at": now,
        "updated_at": now,
        "is_current": True,
    }
    columns: list[Iterable[Any]] = []
    for name, given in varying.items():
        bind = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(given if bind is None else [bind(v) for v in given])
    columns.extend(repeat(_bound(table, name, value, dialect)) for name, value in constant.items())
    columns.append((top_k + "}]").tolist())
    return [*varying, *constant, "top_k"], list(zip(*columns, strict=False))  # the constant columns repeat without end


def _bound(table: Table, name: str, value: Any, dialect: Any) -> Any:
    """``value`` as SQLAlchemy binds it to the column ``name``."""
    bind = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return value if bind is None else bind(value)


def count_outcomes(records: Sequence[ResultRecord]) -> tuple[int, int]:
    """(labelled, failed) in a batch."""
    failed = sum(1 for r in records if r.status == ResultStatus.FAILED)
    return len(records) - failed, failed


def _rows(records: Sequence[ResultRecord], model_version_id: str, job_id: int | None) -> list[dict[str, Any]]:
    """The table's rows of ``records`` (one per path already), stamped now."""
    now = utcnow()
    return [
        {
            "image_path": r.image_path,
            "content_id": r.content_id,
            "content_hash": r.content_hash,
            "label": r.label,
            "confidence": r.confidence,
            "top_k": r.top_k,
            "status": r.status,
            "error": None if r.error is None else printable(r.error),
            "warning": None if r.warning is None else printable(r.warning),
            "model_version_id": model_version_id,
            "job_id": job_id,
            "created_at": now,
            "updated_at": now,
        }
        for r in records
    ]


def _last_per_path(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    # One statement may not touch the same key twice (PostgreSQL refuses it).
    return list({r.image_path: r for r in records}.values())
