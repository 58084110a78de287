"""Training on a worker: a queued `mobilabel train --queue` run, or the scheduled retraining."""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import timedelta

from celery import Celery

from ..errors import MobilabelError
from ..object_paths import source_path
from ..scheduler.relabel import relabel_recent_jobs
from ..storage import training_runs as stored_runs
from ..storage.heartbeat import Heartbeat
from ..storage.ownership import beat_run, claim_run, reap_orphans
from ..training import TrainingOptions
from ..training.inputs import unchanged_since_last_run
from ..training.recorded import RecordedProgress
from .runtime import WorkerRuntime

log = logging.getLogger("mobilabel.worker")


def run_training(rt: WorkerRuntime, app: Celery, run_id: int, owner: str) -> str | None:
    """Do one queued run as ``owner`` (a worker's task, or a server), which keeps a heartbeat on the run
    (MOBILABEL_HEARTBEAT_S) so that a run whose owner died is failed, not left running; returns the new
    version id, or None if the run failed or was done already."""
    with rt.db.transaction() as session:
        run = stored_runs.start_run(session, run_id)
        if run is not None:
            claim_run(session, run_id, owner)
    if run is None:
        log.info("training run skipped: not queued", extra={"run": run_id})
        return None
    # Imported here: training needs torch, which a worker that only labels (a slim one) never imports.
    from ..training import train

    on_progress = RecordedProgress(rt.db, run_id)
    heartbeat = Heartbeat(
        rt.db, lambda session: beat_run(session, run_id, owner), rt.settings.heartbeat_s, f"training run {run_id}"
    )
    try:
        with heartbeat:
            data_dir = source_path(run.data_dir) if run.data_dir else None
            report = train(
                rt.db,
                rt.settings,
                data_dir,
                TrainingOptions(**run.options),
                force=run.force,
                on_progress=on_progress,
                run_roots=tuple(source_path(root) for root in run.allowed_roots or ()),  # those of who created the run
            )
    except Exception as exc:  # the run records why it failed; the worker carries on
        log.exception("training run failed", extra={"run": run_id})
        with rt.db.transaction() as session:
            stored_runs.finish_run(session, run_id, None, None, error=f"{exc.__class__.__name__}: {exc}")
        return None
    with rt.db.transaction() as session:
        stored_runs.finish_run(session, run_id, report.version_id, report.promotion.promoted)
    log.info(
        "training run completed",
        extra={
            "run": run_id,
            "version": report.version_id,
            "val_accuracy": report.val_accuracy,
            "promoted": report.promotion.promoted,
        },
    )
    if run.relabel and report.promotion.promoted:
        jobs = relabel_recent_jobs(rt.db, app, rt.settings, report.version_id, since=timedelta(days=7))
        log.info("relabelling recent jobs with the new version", extra={"version": report.version_id, "jobs": jobs})
    return report.version_id


def scheduled_retrain(rt: WorkerRuntime, app: Celery, data_dir: str | None, relabel: bool, owner: str) -> str | None:
    """The scheduled retraining: default options on ``data_dir`` (None: on the answers alone), answers included.

    Skipped, with a log line and no run recorded, when neither the folder's images nor the
    verified labels changed since the last completed run on it: it would learn the same.
    Returns the new version id, or None if skipped or failed.
    """
    data_dir = os.path.abspath(data_dir) if data_dir is not None else None
    options = TrainingOptions()
    try:
        unchanged = unchanged_since_last_run(rt.db, source_path(data_dir) if data_dir is not None else None, options)
    except MobilabelError:
        unchanged = False  # a folder that cannot be read: the run records why it fails
    if unchanged:
        log.info(
            "scheduled retraining skipped: no image or verified label changed since the last run", extra={"data_dir": data_dir}
        )
        return None
    with rt.db.transaction() as session:
        reap_orphans(session, rt.settings.heartbeat_s)  # a run whose worker died holds no slot
        run = stored_runs.create_scheduled_run(session, data_dir, dataclasses.asdict(options), relabel)
        active = None if run is not None else stored_runs.active_scheduled_run(session, data_dir)
    if run is None:
        log.info(
            "scheduled retraining skipped: run %s on this folder is still queued or running", active, extra={"data_dir": data_dir}
        )
        return None
    return run_training(rt, app, run.id, owner)
