"""`mobilabel enqueue | worker | status | cancel | sweep`: the distributed path."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import click
from celery.signals import worker_ready, worker_shutdown
from rich.console import Console

from ..config import Settings, load_settings
from ..logs import configure_logging
from ..models.engines import compute_threads
from ..pipeline.paths import iter_images
from ..registry import resolve_checkpoint
from ..scheduler.enqueue import enqueue_folder
from ..scheduler.sweeper import sweep
from ..storage import Database, open_database
from ..storage import chunks as stored_chunks
from ..storage import jobs as stored_jobs
from ..storage.tables import Job
from ..worker import metrics
from ..worker.app import QUEUES, create_app
from .progress import image_progress

log = logging.getLogger("mobilabel.worker")


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), help="Images per task (default: MOBILABEL_CHUNK_SIZE).")
@click.option("--queue", type=click.Choice(QUEUES), default="cpu", show_default=True)
@click.option("--model", help="Pin the job to this checkpoint file or version id (default: whichever version is active).")
@click.pass_obj
def enqueue(settings: Settings, folder: Path, chunk_size: int | None, queue: str, model: str | None) -> None:
    """Send every image under FOLDER to the workers, in chunks; prints the job id."""
    database = open_database(settings.database_url)
    pinned = resolve_checkpoint(database, settings, model).version_id if model else None
    if next(iter_images(folder), None) is None:
        click.echo(f"No images under {folder}.", err=True)
        return
    job_id = enqueue_folder(database, create_app(settings), settings, folder, chunk_size or settings.chunk_size, queue, pinned)
    with database.transaction() as session:
        job = stored_jobs.get_job(session, job_id)
        assert job is not None
        total = job.total
    database.dispose()
    click.echo(f"job {job_id}: {total} images sent to queue {queue}; follow it with: mobilabel status {job_id} --watch", err=True)
    click.echo(job_id)


@click.command()
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), help="Worker processes (default: the cores, 1 on a GPU).")
@click.option("--queues", help="Comma-separated queues (default: cpu; gpu,cpu on a GPU).")
@click.option("--name", help="Worker name, unique per machine (default: mobilabel-DEVICE-PID@host).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--metrics-port", type=click.IntRange(min=0), help="Serve Prometheus metrics here (default: MOBILABEL_METRICS_PORT; 0: off).")
@click.pass_obj
def worker(
    settings: Settings, device: str, concurrency: int | None, queues: str | None, name: str | None, loglevel: str,
    metrics_port: int | None,
) -> None:
    """Run a Celery worker: each process loads the model once and labels chunks."""
    gpu = device == "cuda" or (device == "auto" and _cuda_available())
    cores = compute_threads()
    concurrency = concurrency or (1 if gpu else cores)
    # Children read their settings from the environment after the fork.
    os.environ["MOBILABEL_DEVICE"] = "cuda" if gpu else "cpu"
    if not settings.threads:
        os.environ["MOBILABEL_THREADS"] = str(max(1, cores // concurrency))
    settings = load_settings()
    open_database(settings.database_url).dispose()  # fail now, clearly, if the schema is not migrated
    app = create_app(settings)
    default_name = f"mobilabel-{settings.device}-{os.getpid()}@%h"
    _run_sweeper_beside(settings, app)
    configure_logging(loglevel)
    port = settings.metrics_port if metrics_port is None else metrics_port
    if port:
        metrics_folder = metrics.prepare()  # before the pool forks, so every process writes there
        metrics.serve(port)
        log.info("serving Prometheus metrics", extra={"port": port})
    app.worker_main([
        "worker",
        f"--queues={queues or ('gpu,cpu' if gpu else 'cpu')}",
        f"--concurrency={concurrency}",
        # CUDA must never be initialised in a parent that forks: a GPU worker runs tasks in-process.
        f"--pool={'solo' if gpu else 'prefork'}",
        f"--hostname={name or default_name}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
    ])
    if port:
        metrics.cleanup(metrics_folder)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _run_sweeper_beside(settings: Settings, app: Any) -> None:
    """Sweep overdue chunks from the worker's main process, so a lone worker needs no scheduler."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.sweep_interval_s):
            database = Database(settings.database_url)
            try:
                sweep(database, app, settings)
            except Exception as exc:  # a sweep that fails now will run again next interval
                log.warning("sweep failed: %s", exc)
            finally:
                database.dispose()

    @worker_ready.connect(weak=False)
    def _start(**_: Any) -> None:
        threading.Thread(target=loop, name="sweeper", daemon=True).start()

    @worker_shutdown.connect(weak=False)
    def _stop(**_: Any) -> None:
        stop.set()


@click.command()
@click.argument("job_id", type=int)
@click.option("--watch", is_flag=True, help="Follow the job with a progress bar until it ends.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds between looks.")
@click.pass_obj
def status(settings: Settings, job_id: int, watch: bool, interval: float) -> None:
    """Progress of a job, from the database: done, failed, total, rate and ETA."""
    database = open_database(settings.database_url)
    console = Console(stderr=True)
    job = _job(database, job_id)
    if watch:
        with image_progress(console) as progress:
            task = progress.add_task(f"job {job_id}", total=job.total or None, completed=job.done + job.failed)
            while job.status in stored_jobs.ACTIVE:
                time.sleep(interval)  # polling the database is how a watcher learns of progress
                job = _job(database, job_id)
                progress.update(task, total=job.total or None, completed=job.done + job.failed)
    with database.transaction() as session:
        states = stored_chunks.chunk_states(session, job_id)
    database.dispose()
    chunks = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none"
    click.echo(
        f"job {job.id} {job.status}: {job.done + job.failed}/{job.total} images ({job.done} labelled, {job.failed} failed); chunks: {chunks}"
    )
    if job.status in (stored_jobs.FAILED, stored_jobs.CANCELLED):
        raise SystemExit(1)


@click.command()
@click.argument("job_id", type=int)
@click.pass_obj
def cancel(settings: Settings, job_id: int) -> None:
    """Cancel a job: chunks not yet started are dropped; running ones finish."""
    database = open_database(settings.database_url)
    with database.transaction() as session:
        job = stored_jobs.get_job(session, job_id)
        if job is None:
            raise click.ClickException(f"no job {job_id}")
        if job.status not in stored_jobs.ACTIVE:
            raise click.ClickException(f"job {job_id} is {job.status} already")
        stored_jobs.finish_job(session, job_id, stored_jobs.CANCELLED)
        dropped = stored_chunks.cancel_chunks(session, job_id)
    database.dispose()
    click.echo(f"job {job_id} cancelled: {dropped} chunks will not run")


@click.command("sweep")
@click.pass_obj
def sweep_command(settings: Settings) -> None:
    """Re-send chunks whose deadline passed (workers lost, broker data lost)."""
    database = open_database(settings.database_url)
    sent = sweep(database, create_app(settings), settings)
    database.dispose()
    click.echo(f"re-sent {sent} chunks")


def _job(database: Database, job_id: int) -> Job:
    with database.transaction() as session:
        job = stored_jobs.get_job(session, job_id)
    if job is None:
        raise click.ClickException(f"no job {job_id}")
    return job


COMMANDS = (enqueue, worker, status, cancel, sweep_command)
