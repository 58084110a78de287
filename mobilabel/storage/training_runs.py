"""Training runs done by workers: queued, running (with progress), completed or failed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .answer_queries import answers_since
from .database import rows_changed
from .pathcodec import printable
from .paths import absolute_path
from .states import ACTIVE_RUN_STATES, RunState
from .tables import ModelVersion, TrainingRun, utcnow


def create_run(
    session: Session,
    data_dir: str | None,
    options: dict[str, Any],
    force: bool,
    relabel: bool,
    trigger: str,
    allowed_roots: Sequence[Path] = (),
) -> TrainingRun:
    """Record a queued run; its data folder is stored absolute (``paths.absolute_path``); None: on the answers alone.
    ``allowed_roots`` are the creating process's MOBILABEL_ALLOWED_ROOTS, which whoever trains holds the run's
    files to as well as to its own (``training.train``'s ``run_roots``)."""
    run = TrainingRun(
        allowed_roots=[str(r) for r in allowed_roots] or None,
        data_dir=absolute_path(data_dir) if data_dir is not None else None,
        options=options,
        force=force,
        relabel=relabel,
        trigger=trigger,
        status=RunState.QUEUED,
    )
    session.add(run)
    session.flush()
    return run


def create_scheduled_run(session: Session, data_dir: str | None, options: dict[str, Any], relabel: bool) -> TrainingRun | None:
    """Record a queued scheduled run, unless one on ``data_dir`` (None: the answers alone) is queued or running already (then None).

    The unique partial index ``uq_training_runs_one_scheduled`` decides, so two workers handed the
    same slot by two schedulers at the same moment never both train. The index cannot see runs on
    the answers alone (its key is NULL): for those the scheduler's lease (one sender at a time) and
    the check here keep one run per slot.
    """
    if data_dir is None and active_scheduled_run(session, None) is not None:
        return None
    try:
        with session.begin_nested():
            return create_run(session, data_dir, options, force=False, relabel=relabel, trigger="schedule")
    except IntegrityError:
        return None


def active_scheduled_run(session: Session, data_dir: str | None) -> int | None:
    """The id of the scheduled run on ``data_dir`` (None: the answers alone) that is queued or running, if any."""
    folder = TrainingRun.data_dir.is_(None) if data_dir is None else TrainingRun.data_dir == absolute_path(data_dir)
    return session.scalar(
        select(TrainingRun.id)
        .where(folder, TrainingRun.trigger == "schedule", TrainingRun.status.in_(ACTIVE_RUN_STATES))
        .limit(1)
    )


def start_run(session: Session, run_id: int) -> TrainingRun | None:
    """Mark a queued run running; None if it is not queued (a repeated message)."""
    started = session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status == RunState.QUEUED)
        .values(status=RunState.RUNNING, started_at=utcnow())
    )
    return session.get(TrainingRun, run_id) if rows_changed(started) == 1 else None


def record_progress(session: Session, run_id: int, progress: dict[str, Any]) -> None:
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(progress=progress))


def finish_run(session: Session, run_id: int, version_id: str | None, promoted: bool | None, error: str | None = None) -> None:
    session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id)
        .values(
            status=RunState.FAILED if error else RunState.COMPLETED,
            version_id=version_id,
            promoted=promoted,
            error=None if error is None else printable(error),
            finished_at=utcnow(),
        )
    )


def get_run(session: Session, run_id: int) -> TrainingRun | None:
    return session.get(TrainingRun, run_id)


def list_runs(session: Session, limit: int = 20) -> list[TrainingRun]:
    return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)))


def last_completed_metrics(session: Session, data_dir: str | None) -> dict[str, Any] | None:
    """The metrics of the version made by the newest completed run on ``data_dir`` (None: on the answers
    alone); None if there is none."""
    same_data = TrainingRun.data_dir.is_(None) if data_dir is None else TrainingRun.data_dir == absolute_path(data_dir)
    return session.scalar(
        select(ModelVersion.metrics)
        .join(TrainingRun, TrainingRun.version_id == ModelVersion.id)
        .where(same_data, TrainingRun.status == RunState.COMPLETED)
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )


QUICK_TRIGGER = "quick"  # the runs a quick head's fit records (training.quick)
GATE_METRIC = "gate"  # a quick head's version metric: the gate's comparison on held-out answers


def last_run(session: Session, trigger: str) -> TrainingRun | None:
    """The newest run started by ``trigger`` (e.g. ``quick``), whatever its state."""
    return session.scalar(select(TrainingRun).where(TrainingRun.trigger == trigger).order_by(TrainingRun.id.desc()).limit(1))


def quick_refresh_due(session: Session, every: int) -> bool:
    """Whether ``every`` answers (MOBILABEL_REFRESH_EVERY; 0: never) came since the last quick fit began (or ever)."""
    if every <= 0:
        return False
    last = last_run(session, QUICK_TRIGGER)
    return answers_since(session, last.created_at if last is not None else None) >= every


def quick_refusal(session: Session) -> str | None:
    """Why the newest quick fit left the suggestions as they were (the gate refused it, or it failed); None if it
    was promoted, if a version was activated since, or if there is none."""
    last = last_run(session, QUICK_TRIGGER)
    if last is None or last.promoted or last.status not in (RunState.COMPLETED, RunState.FAILED):
        return None
    activated = session.scalar(select(ModelVersion.activated_at).where(ModelVersion.active))
    if activated is not None and last.finished_at is not None and activated > last.finished_at:
        return None
    if last.error:
        return f"the last quick head (run {last.id}) failed: {last.error}"
    version = session.get(ModelVersion, last.version_id) if last.version_id is not None else None
    reason = (version.metrics if version is not None else {}).get(GATE_METRIC, "")
    return f"the last quick head {last.version_id} was not promoted: {reason}"
