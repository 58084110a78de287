"""`mobilabel enqueue | status | cancel | sweep`: driving the workers. Light: no torch, so enqueueing
a huge folder stays small and fast."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..broker import QUEUES, create_app, reaching_broker
from ..config import Settings
from ..dispatch import submit_job
from ..pipeline.paths import iter_images
from ..plurals import counted
from ..scheduler.sweeper import sweep
from ..storage import Database
from ..storage import chunks as stored_chunks
from ..storage import jobs as stored_jobs
from ..storage.states import ACTIVE_JOB_STATES, JobState
from ..storage.tables import Job
from .context import command_database, reap_orphans_now
from .output import messages, passed_over_text
from .progress import image_progress
from .sources import SOURCE


@click.command()
@click.argument("folder", type=SOURCE)
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), help="Images per task (default: MOBILABEL_CHUNK_SIZE).")
@click.option("--queue", type=click.Choice(QUEUES), default="cpu", show_default=True)
@click.option("--model", help="Pin the job to this checkpoint file or version id (default: whichever version is active).")
@click.option("--force", is_flag=True, help="Send every image, also those unchanged since the version in force labelled them.")
@click.pass_obj
def enqueue(settings: Settings, folder: Path, chunk_size: int | None, queue: str, model: str | None, force: bool) -> None:
    """Send every image under FOLDER to the workers, in chunks; prints the job id.

    An image whose labelled row for the version in force has its current size and modification
    time is not sent (skipped as unchanged; failed rows are sent again); --force sends all.
    """
    database = command_database()
    pinned = _pinned_version(database, settings, model) if model else None
    if next(iter_images(folder), None) is None:
        click.echo(f"No images under {folder}.", err=True)
        return
    job = submit_job(database, settings, folder, chunk_size=chunk_size, queue=queue, pinned=pinned, force=force)
    passed_over = passed_over_text(job.passed_over)
    click.echo(
        f"job {job.id}: {counted(job.total - job.skipped, 'image')} sent to queue {queue}, {job.skipped} skipped (unchanged){passed_over}; "
        f"follow it with: mobilabel status {job.id} --watch",
        err=True,
    )
    click.echo(job.id)


def _pinned_version(database: Database, settings: Settings, model: str) -> str:
    # Imported here: reading a checkpoint file needs torch, which plain enqueueing does without.
    from ..versions.checkpoints import resolve_model

    chosen = resolve_model(database, settings, model)
    return chosen if isinstance(chosen, str) else chosen.version_id


@click.command()
@click.argument("job_id", type=int)
@click.option("--watch", is_flag=True, help="Follow the job with a progress bar until it ends.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds between looks.")
def status(job_id: int, watch: bool, interval: float) -> None:
    """Progress of a job, from the database: done, failed, total, rate and ETA."""
    database = command_database()
    console = messages()
    job = _job(database, job_id)
    if watch:
        with image_progress(console) as progress:
            task = progress.add_task(f"job {job_id}", total=job.total or None, completed=job.processed)
            while job.status in ACTIVE_JOB_STATES:
                time.sleep(interval)  # polling the database is how a watcher learns of progress
                job = _job(database, job_id)
                progress.update(task, total=job.total or None, completed=job.processed)
    with database.transaction() as session:
        states = stored_chunks.chunk_states(session, job_id)
    chunks = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none"
    passed_over = passed_over_text(job.passed_over)
    click.echo(
        f"job {job.id} {job.status}: {job.processed}/{counted(job.total, 'image')} "
        f"({job.done} labelled, {job.failed} failed, {job.skipped} skipped (unchanged){passed_over}); chunks: {chunks}"
    )
    if job.status in (JobState.FAILED, JobState.CANCELLED):
        raise SystemExit(1)


@click.command()
@click.argument("job_id", type=int)
def cancel(job_id: int) -> None:
    """Cancel a job: chunks not yet started are dropped; running ones finish."""
    with command_database().transaction() as session:
        job = stored_jobs.get_job(session, job_id)
        if job is None:
            raise click.ClickException(f"no job {job_id}")
        if job.status not in ACTIVE_JOB_STATES:
            raise click.ClickException(f"job {job_id} is {job.status} already")
        stored_jobs.finish_job(session, job_id, JobState.CANCELLED)
        dropped = stored_chunks.cancel_chunks(session, job_id)
    click.echo(f"job {job_id} cancelled: {counted(dropped, 'chunk')} will not run")


@click.command("sweep")
@click.pass_obj
def sweep_command(settings: Settings) -> None:
    """Re-send chunks whose deadline passed (workers lost, broker data lost)."""
    with reaching_broker(settings):
        sent = sweep(command_database(), create_app(settings), settings)
    click.echo(f"re-sent {counted(sent, 'chunk')}")


def _job(database: Database, job_id: int) -> Job:
    reap_orphans_now(database)
    with database.transaction() as session:
        job = stored_jobs.get_job(session, job_id)
    if job is None:
        raise click.ClickException(f"no job {job_id}")
    return job
