"""Labelling one chunk: claim it, label it batch by batch, finish it exactly once."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from ..pipeline.labeller import LabelledBatch
from ..storage import chunks as stored_chunks
from ..storage.results import ResultRecord, count_outcomes, write_results
from ..storage.states import ChunkState, ResultStatus
from ..storage.tables import utcnow
from . import metrics
from .retry import with_db_retry
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
    labeller = rt.labeller(claimed.model_version_id)
    if claimed.attempt > 1 + settings.max_redeliveries:
        return _give_up(rt, claimed, labeller.classifier.version_id)

    done = failed = 0
    started = time.perf_counter()
    for batch in labeller.label(claimed.paths):
        with_db_retry(partial(_write_batch, rt, batch, claimed.job_id), patience, f"chunk {chunk_id}: write batch")
        ok, bad = count_outcomes(batch.records)
        done, failed = done + ok, failed + bad
        seconds = time.perf_counter() - started
        metrics.record_batch(batch.model_version_id, ok, bad, seconds)
        log.info(
            "batch labelled",
            extra={"job": claimed.job_id, "chunk": chunk_id, "version": batch.model_version_id, "images": len(batch.records),
                   "failed": bad, "seconds": round(seconds, 3)},
        )
        started = time.perf_counter()

    def finish() -> bool:
        with rt.db.transaction() as session:
            return stored_chunks.finish_chunk(session, chunk_id, done, failed)

    counted = with_db_retry(finish, patience, f"chunk {chunk_id}: finish")
    return ChunkOutcome(chunk_id, ChunkState.DONE if counted else "duplicate", done, failed)


def _write_batch(rt: WorkerRuntime, batch: LabelledBatch, job_id: int) -> None:
    with rt.db.transaction() as session:
        write_results(session, batch.records, batch.model_version_id, job_id)


def _give_up(rt: WorkerRuntime, claimed: stored_chunks.ClaimedChunk, version_id: str) -> ChunkOutcome:
    """A chunk delivered too often (its workers kept dying): its images fail with the reason."""
    reason = f"gave up after {claimed.attempt - 1} attempts: the worker labelling this chunk crashed or timed out each time"
    log.error(reason, extra={"job": claimed.job_id, "chunk": claimed.id})

    def give_up() -> ChunkOutcome:
        with rt.db.transaction() as session:
            records = [ResultRecord(path, None, ResultStatus.FAILED, error=reason) for path in claimed.paths]
            write_results(session, records, version_id, claimed.job_id, keep_existing=True)
            done = stored_chunks.ok_count(session, claimed.job_id, claimed.paths)
            failed = len(claimed.paths) - done
            stored_chunks.finish_chunk(session, claimed.id, done, failed, state=ChunkState.FAILED, error=reason)
            return ChunkOutcome(claimed.id, ChunkState.FAILED, done, failed)

    return with_db_retry(give_up, rt.settings.db_patience_s, f"chunk {claimed.id}: give up")
