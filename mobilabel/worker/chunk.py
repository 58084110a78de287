"""Labelling one chunk: claim it, label it batch by batch, finish it exactly once."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from ..pipeline.labeller import KnownResults, LabelledBatch
from ..pipeline.reuse import stored_results
from ..storage import chunks as stored_chunks
from ..storage.embedding_writes import write_embeddings
from ..storage.results import ResultRecord, count_outcomes, write_results
from ..storage.retry import is_transient, with_db_retry
from ..storage.states import ChunkState, ResultStatus
from ..storage.tables import utcnow
from . import metrics
from .runtime import WorkerRuntime

log = logging.getLogger("mobilabel.worker")


@dataclass(frozen=True)
class ChunkOutcome:
    chunk_id: int
    state: str
    done: int = 0
    failed: int = 0


def process_chunk(rt: WorkerRuntime, chunk_id: int) -> ChunkOutcome:
    settings = rt.settings
    patience = settings.db_patience_s

    def claim() -> stored_chunks.ClaimedChunk | None:
        with rt.db.transaction() as session:
            return stored_chunks.claim_chunk(session, chunk_id, rt.name, timedelta(seconds=settings.chunk_deadline_s))

    claimed = with_db_retry(claim, patience, f"chunk {chunk_id}: claim")
    if claimed is None:
        log.info("chunk skipped: finished already or its job was cancelled", extra={"chunk": chunk_id})
        return ChunkOutcome(chunk_id, "skipped")
    if claimed.attempt == 1:
        metrics.record_queue_wait((utcnow() - claimed.queued_at).total_seconds())
    if claimed.attempt > 1 + settings.max_redeliveries:
        reason = claimed.last_error or "the worker labelling this chunk crashed or timed out each time"
        return _give_up(rt, claimed, f"gave up after {claimed.attempt - 1} attempts: {reason}")
    try:
        done, failed = _label(rt, claimed)
    except Exception as exc:  # e.g. a model that cannot load: the same on every attempt, or not
        reason = f"{exc.__class__.__name__}: {exc}"
        log.exception("chunk attempt %d failed: %s", claimed.attempt, reason, extra={"job": claimed.job_id, "chunk": chunk_id})
        if claimed.attempt >= 1 + settings.max_redeliveries:
            return _give_up(rt, claimed, f"gave up after {claimed.attempt} attempts: {reason}")

        def release() -> None:
            with rt.db.transaction() as session:
                stored_chunks.retry_soon(session, chunk_id, reason)

        with_db_retry(release, patience, f"chunk {chunk_id}: release")
        return ChunkOutcome(chunk_id, "retrying")

    def finish() -> bool:
        with rt.db.transaction() as session:
            return stored_chunks.finish_chunk(session, chunk_id, done, failed)

    counted = with_db_retry(finish, patience, f"chunk {chunk_id}: finish")
    return ChunkOutcome(chunk_id, ChunkState.DONE if counted else "duplicate", done, failed)


def _label(rt: WorkerRuntime, claimed: stored_chunks.ClaimedChunk) -> tuple[int, int]:
    """Label and write the chunk's images, a batch per transaction; returns (labelled, failed)."""
    done = failed = 0
    started = time.perf_counter()
    labeller = rt.labeller(claimed.model_version_id).within(claimed.allowed_roots)
    for batch in labeller.label(claimed.paths, _known_results(rt, claimed.id)):
        with_db_retry(
            partial(_write_batch, rt, batch, claimed.job_id), rt.settings.db_patience_s, f"chunk {claimed.id}: write batch"
        )
        ok, bad = count_outcomes(batch.records)
        done, failed = done + ok, failed + bad
        seconds = time.perf_counter() - started
        metrics.record_batch(batch.model_version_id, ok, bad, seconds)
        log.info(
            "batch labelled",
            extra={
                "job": claimed.job_id,
                "chunk": claimed.id,
                "version": batch.model_version_id,
                "images": len(batch.records),
                "failed": bad,
                "seconds": round(seconds, 3),
            },
        )
        started = time.perf_counter()
    return done, failed


def _known_results(rt: WorkerRuntime, chunk_id: int) -> KnownResults:
    """The stored results of contents already labelled, looked up through database outages like the writes."""
    lookup = stored_results(rt.db)

    def known(content_hashes: Sequence[str], model_version_id: str) -> Mapping[str, ResultRecord]:
        return with_db_retry(
            partial(lookup, content_hashes, model_version_id), rt.settings.db_patience_s, f"chunk {chunk_id}: look up contents"
        )

    return known


def _write_batch(rt: WorkerRuntime, batch: LabelledBatch, job_id: int) -> None:
    with rt.db.transaction() as session:
        write_results(session, batch.records, batch.model_version_id, job_id)
        write_embeddings(session, batch.backbone, batch.records)


def _give_up(rt: WorkerRuntime, claimed: stored_chunks.ClaimedChunk, reason: str) -> ChunkOutcome:
    """A chunk that failed on every attempt: its images not labelled yet fail with the reason, and it ends,
    so its job completes. If even those rows cannot be written, the chunk still ends with its counts."""
    log.error(reason, extra={"job": claimed.job_id, "chunk": claimed.id})
    version_id = _version_for_failed_rows(rt, claimed)

    def give_up() -> ChunkOutcome:
        records = [ResultRecord(path, None, ResultStatus.FAILED, error=reason) for path in claimed.paths]
        try:
            if version_id is not None:
                with rt.db.transaction() as session:
                    write_results(session, records, version_id, claimed.job_id, keep_existing=True)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception(
                "could not write the failed rows of a given-up chunk", extra={"job": claimed.job_id, "chunk": claimed.id}
            )
        with rt.db.transaction() as session:
            done = stored_chunks.ok_count(session, claimed.job_id, claimed.paths)
            failed = len(claimed.paths) - done
            stored_chunks.finish_chunk(session, claimed.id, done, failed, state=ChunkState.FAILED, error=reason)
            return ChunkOutcome(claimed.id, ChunkState.FAILED, done, failed)

    return with_db_retry(give_up, rt.settings.db_patience_s, f"chunk {claimed.id}: give up")


def _version_for_failed_rows(rt: WorkerRuntime, claimed: stored_chunks.ClaimedChunk) -> str | None:
    """The version the chunk's failed rows name: its job's pinned one, else the model in force (None if none loads)."""
    if claimed.model_version_id is not None:
        return claimed.model_version_id
    try:
        return rt.labeller().classifier.version_id
    except Exception:
        return None
