"""The tables. Changes here need an Alembic migration in ``migrations/versions``.

Every path column is a ``StoredPath`` (or ``StoredPathList``): Python sees OS paths, the
database their one text form (``pathcodec``), so a file name that is not UTF-8 is stored exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

from .pathcodec import StoredPath, StoredPathList
from .states import ChunkState, JobState, RunState


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back aware, in UTC (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime()}


class ModelVersion(Base):
    __tablename__ = "model_versions"
    # Serves the current-row rule's version order from the index alone (storage.current).
    __table_args__ = (Index("ix_model_versions_id_created_at", "id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    arch: Mapped[str] = mapped_column(String(32))
    alpha: Mapped[float] = mapped_column(Float)
    classes: Mapped[list[Any]]
    metrics: Mapped[dict[str, Any]]
    # The whole checkpoint file, so any worker on any machine can load a version by id.
    checkpoint: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    # Set by `mobilabel models delete`: the checkpoint and results are gone, the row stays
    # so the jobs, runs and activation history that name it still can.
    deleted_at: Mapped[datetime | None]


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    root: Mapped[str] = mapped_column(StoredPath)
    status: Mapped[str] = mapped_column(String(16), default=JobState.RUNNING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Images left alone because their ok row for the job's version matches their fingerprint.
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    model_version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"))
    # The Celery queue a distributed job's chunks go to; None for an embedded run.
    queue: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The process doing the job ("label 1234@host", "serve 1234@host", "enqueue 1234@host") and when it
    # last said it was alive (storage.ownership); None once a distributed job's chunks carry it.
    owner: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None]
    # What the walk passed over, by reason (``pipeline.paths.WalkCounts``); None before it ends (migration 0014).
    passed_over: Mapped[dict[str, Any] | None]

    @property
    def processed(self) -> int:
        """Images the job is through: labelled, failed or skipped (unchanged), out of ``total``."""
        return self.done + self.failed + self.skipped

    # MOBILABEL_ALLOWED_ROOTS of the process that created the job (the server, for a job created over HTTP):
    # workers open only files under them as well as under their own. None or empty: the creator set none.
    allowed_roots: Mapped[list[str] | None] = mapped_column(StoredPathList)


class Chunk(Base):
    """A slice of a distributed job's paths: the unit sent to a worker, and what the sweeper re-sends.

    The database, not the broker, is the source of truth for what remains to do.
    """

    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("job_id", "seq", name="uq_chunks_job_seq"),
        Index("ix_chunks_state_deadline", "state", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    paths: Mapped[list[str]] = mapped_column(StoredPathList)
    state: Mapped[str] = mapped_column(String(16), default=ChunkState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    deadline: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(Text)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


# Partial indexes over the current rows only, in both dialects.
_CURRENT_ONLY: dict[str, Any] = {"postgresql_where": text("is_current"), "sqlite_where": text("is_current = 1")}


class Result(Base):
    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("image_path", "model_version_id", name="uq_results_image_version"),
        Index("ix_results_job_id", "job_id"),
        Index("ix_results_label", "label"),
        Index("ix_results_content_hash", "content_hash"),
        # Migration 0009: pages of current rows (storage.current) in keyset order (sort column, then id).
        Index("ix_results_current_confidence", "confidence", "id", **_CURRENT_ONLY),
        Index("ix_results_current_label_confidence", "label", "confidence", "id", **_CURRENT_ONLY),
        Index("ix_results_current_status_path", "status", "image_path", "id", **_CURRENT_ONLY),
        Index("ix_results_current_path", "image_path", "id", **_CURRENT_ONLY),
        # Migration 0007: the API's result pages (keyset order: sort column, then id).
        Index("ix_results_job_confidence", "job_id", "confidence", "id"),
        Index("ix_results_label_confidence", "label", "confidence", "id"),
        Index("ix_results_status_path", "status", "image_path"),
        # Migration 0011: partial, so that exact-path lookups of all rows never pick it over the B-tree.
        Index(
            "ix_results_image_path_pattern",
            "image_path",
            postgresql_using="gin",
            postgresql_ops={"image_path": "gin_trgm_ops"},
            postgresql_where=text("is_current"),
        ),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_path: Mapped[str] = mapped_column(StoredPath)
    # The fingerprint (size:mtime_ns): whether the file changed since, cheaply.
    content_id: Mapped[str | None] = mapped_column(String(64))
    # What the image is: XXH3-128 of its bytes (mobilabel.hashing); None if it could not be read.
    content_hash: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    top_k: Mapped[list[Any] | None]
    model_version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    warning: Mapped[str | None] = mapped_column(Text)  # what the decoder reported about an image it still read
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Whether this is its image's current row (storage.current keeps it right on every change).
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class JobImage(Base):
    """One image a job covered and its outcome there, whichever job last wrote the shared result row.

    The result it stands for is the row (``image_path``, ``model_version_id``).
    """

    __tablename__ = "job_images"
    __table_args__ = (Index("ix_job_images_image_version", "image_path", "model_version_id"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    image_path: Mapped[str] = mapped_column(StoredPath, primary_key=True)
    model_version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelActivation(Base):
    """One activation of a model version: the history `mobilabel models rollback` walks back.

    ``previous_version_id`` is the version a rollback from this activation returns to:
    the one active before it, or, for a rollback's own row, the one before that.
    """

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))
    previous_version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"))
    reason: Mapped[str] = mapped_column(String(16))
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Correction(Base):
    """A label a person verified for one image content; training may learn from it.

    Keyed by the content hash, so it follows the file through a rename and no longer
    matches once the file is edited. ``image_path`` is where it was made. ``content_hash``
    is None only for corrections from before hashes whose file was gone at the upgrade.
    """

    __tablename__ = "corrections"
    __table_args__ = (UniqueConstraint("content_hash", name="uq_corrections_content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content_hash: Mapped[str | None] = mapped_column(String(32))
    image_path: Mapped[str] = mapped_column(StoredPath)
    label: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Migration 0013: who gave the answer now standing, and whether it answered an audit lease (a
    # uniformly drawn image: held out of training, so it measures accuracy on the unreviewed rest).
    reviewer: Mapped[str | None] = mapped_column(Text)
    audit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Migration 0015: the group answered at once (near-duplicates, a "more like this" selection), if any.
    answer_group: Mapped[str | None] = mapped_column(String(32))
    # Migration 0018_verify: whether it answered a check lease (a uniform draw of the set `accept` would take):
    # it serves only that set's certificate (``mobilabel.verification``), never training or calibration.
    is_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The model label the answer was kept against in the likely mistakes list (migration 0018_polish_kept): not offered there
    # again while the answer and that label stand; any new answer clears it.
    kept_against: Mapped[str | None] = mapped_column(Text)


class Acceptance(Base):
    """A model's label that `mobilabel accept` accepted for one image content at a stated precision (migration 0014).

    Keyed by content, as answers are; it stands until `accept` runs again and re-checks it under the
    active version. A person's answer of the same content always wins (``review_state``).
    """

    __tablename__ = "acceptances"

    content_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    image_path: Mapped[str] = mapped_column(StoredPath)  # where it was accepted
    label: Mapped[str] = mapped_column(Text)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))
    threshold: Mapped[float] = mapped_column(Float)  # the calibrated confidence it cleared
    confidence: Mapped[float] = mapped_column(Float)
    precision: Mapped[float] = mapped_column(Float)  # the precision asked for
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckRequest(Base):
    """What `accept` asks the review queue for when it cannot certify a precision (migration 0018): check answers
    on the first ``wanted`` images, in check order, of the version's candidate set above ``threshold``."""

    __tablename__ = "check_requests"

    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    precision: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)  # the candidate threshold λ (calibrated confidence)
    wanted: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnswerHistory(Base):
    """Every answer ever given, in order: a changed answer keeps its earlier ones here (migration 0013)."""

    __tablename__ = "answer_history"
    __table_args__ = (Index("ix_answer_history_content_hash", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content_hash: Mapped[str | None] = mapped_column(String(32))
    image_path: Mapped[str] = mapped_column(StoredPath)
    label: Mapped[str] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(Text)
    audit: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer_group: Mapped[str | None] = mapped_column(String(32))  # as Correction.answer_group (migration 0015)


class TrainedAnswer(Base):
    """An answer a version was trained on, by content (migration 0013): every accuracy figure of that
    version leaves it out, so only held-out answers measure it."""

    __tablename__ = "trained_answers"

    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(32), primary_key=True)


class HeldOutPrediction(Base):
    """What a version said of an answer it was trained on, from a fit without that answer (out-of-fold;
    migration 0016, the only home of out-of-fold predictions since 0017): held-out evidence for `accept`,
    the confusion matrix and every held-out figure, where the version's own label of it is not."""

    __tablename__ = "held_out_predictions"

    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)  # calibrated, as the version's results are
    # The answer at fit time and the same fit's calibrated probability of it (migration 0018; None in rows written
    # before): what likely mistakes rank an answer by, while the answer stands unchanged.
    answer_label: Mapped[str | None] = mapped_column(Text)
    answer_confidence: Mapped[float | None] = mapped_column(Float)


class LabelClass(Base):
    """A class of the user's own (migration 0013): answers name it; training learns the active ones.

    Retired (``retired_at`` set): its answers are kept but neither trained on nor offered.
    """

    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("name", name="uq_classes_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class ReviewLease(Base):
    """An image handed to one reviewer by the review queue until ``expires_at`` (migration 0013).

    One row per image path: a lease runs out rather than being deleted, so the row keeps why the
    image was offered (``reason``: uncertain, diverse or audit) for the answer that comes later.
    """

    __tablename__ = "review_leases"
    __table_args__ = (
        UniqueConstraint("image_path", name="uq_review_leases_image_path"),
        Index("ix_review_leases_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_path: Mapped[str] = mapped_column(StoredPath)
    content_hash: Mapped[str | None] = mapped_column(String(32))
    result_id: Mapped[int] = mapped_column(Integer)  # no foreign key: deleting a version removes its results, not this history
    reviewer: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(16))
    leased_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Embedding(Base):
    """An image content's embedding (migration 0014_embeddings): the pooled features the classifier head
    reads, computed by the backbone whose fingerprint is ``backbone`` (models.embedding.backbone_fingerprint),
    as float16 bytes (models.embedding.to_stored). The primary key's order serves "every embedding of a backbone"."""

    __tablename__ = "embeddings"

    backbone: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_ACTIVE_SCHEDULED = "trigger = 'schedule' AND status IN ('queued', 'running')"


class TrainingRun(Base):
    """A training run (local `mobilabel train`, `--queue`, the API or the schedule), and how far it got."""

    __tablename__ = "training_runs"
    # At most one scheduled run per folder is queued or running, whatever number of schedulers sent it.
    __table_args__ = (
        Index(
            "uq_training_runs_one_scheduled",
            "data_dir",
            unique=True,
            postgresql_where=text(_ACTIVE_SCHEDULED),
            sqlite_where=text(_ACTIVE_SCHEDULED),
        ),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    data_dir: Mapped[str | None] = mapped_column(StoredPath)  # None: trained on the answers alone (migration 0013)
    options: Mapped[dict[str, Any]]
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    relabel: Mapped[bool] = mapped_column(Boolean, default=False)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RunState.QUEUED)
    progress: Mapped[dict[str, Any] | None]
    version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"))
    promoted: Mapped[bool | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The worker and task ("worker celery@host/TASK-ID") or server training it, and its last heartbeat.
    owner: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None]
    # MOBILABEL_ALLOWED_ROOTS of the process that created the run (the server, for a run created over HTTP):
    # training reads only files under them as well as under its own (migration 0017_run_roots). None or empty: none set.
    allowed_roots: Mapped[list[str] | None] = mapped_column(StoredPathList)


class Lease(Base):
    """A named lease one process holds until ``expires_at`` unless it renews it: the scheduler's
    (one scheduler sends at a time) and a folder's labelling (one `label` at a time per folder)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
