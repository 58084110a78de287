"""`mobilabel worker`: a Celery worker whose processes each hold a loaded model."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import click
from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from ..broker import create_app, reaching_broker
from ..config import Settings, available_cores, env_variable
from ..logs import configure_logging, mask_secrets
from ..models import resolve_device
from ..scheduler.sweeper import sweep
from ..storage import Database, open_database
from ..worker import metrics, runtime, tasks

log = logging.getLogger("mobilabel.worker")


@click.command()
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Worker processes (default: the cores, 1 on a GPU).")
@click.option("--queues", help="Comma-separated queues (default: cpu; gpu,cpu on a GPU).")
@click.option("--name", help="Worker name, unique per machine (default: mobilabel-DEVICE-PID@host).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option(
    "--metrics-port", type=click.IntRange(min=0), help="Serve Prometheus metrics here (default: MOBILABEL_METRICS_PORT; 0: off)."
)
@click.pass_obj
def worker(
    settings: Settings,
    device: str,
    concurrency: int | None,
    queues: str | None,
    name: str | None,
    loglevel: str,
    metrics_port: int | None,
) -> None:
    """Run a Celery worker: each process loads the model once and labels chunks."""
    # A GPU this machine lacks is an error now, before anything starts. Asking does not create a
    # CUDA context, so the pool may still fork.
    device = resolve_device(device)
    gpu = device.startswith("cuda")
    cores = available_cores()
    concurrency = concurrency or (1 if gpu else cores)
    settings = settings.model_copy(update={"device": device, "lanes": settings.lanes or max(1, cores // concurrency)})
    # Forked pool processes inherit these settings from this process's memory.
    runtime.use_settings(settings)
    open_database(settings.database_url).dispose()  # fail now, clearly, if the schema is not migrated
    app = create_app(settings)
    tasks.register(app)
    default_name = f"mobilabel-{device.replace(':', '')}-{os.getpid()}@%h"
    _run_sweeper_beside(settings, app)
    if gpu:  # the solo pool runs tasks in this process, which gets no worker_process_init: warm up once ready
        worker_ready.connect(lambda **_: runtime.start_process(), weak=False)
    configure_logging(loglevel)
    port = settings.metrics_port if metrics_port is None else metrics_port
    if port:
        metrics_folder = metrics.prepare()  # before the pool forks, so every process writes there
        metrics.serve(port)
        log.info("serving Prometheus metrics", extra={"port": port})
    click.echo(startup_line(settings), err=True)
    with reaching_broker(settings):
        app.worker_main(
            [
                "worker",
                f"--queues={queues or ('gpu,cpu' if gpu else 'cpu')}",
                f"--concurrency={concurrency}",
                # CUDA must never be initialised in a parent that forks: a GPU worker runs tasks in-process.
                f"--pool={'solo' if gpu else 'prefork'}",
                f"--hostname={name or default_name}",
                f"--loglevel={loglevel}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    if port:
        metrics.cleanup(metrics_folder)


def startup_line(settings: Settings) -> str:
    """The line a worker starts with: the broker it takes chunks from and the database it writes results to
    (passwords masked), each with where it comes from: its MOBILABEL_ variable, or the default."""

    def origin(field: str) -> str:
        variable = env_variable(field)
        return variable if field in settings.model_fields_set else f"default; {variable} sets another"

    return (
        f"worker: broker {mask_secrets(settings.broker_url)} ({origin('broker_url')}), "
        f"results to {mask_secrets(settings.database_url)} ({origin('database_url')})"
    )


def _run_sweeper_beside(settings: Settings, app: Celery) -> None:
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

    def start(**_: Any) -> None:
        threading.Thread(target=loop, name="sweeper", daemon=True).start()

    def end(**_: Any) -> None:
        stop.set()

    worker_ready.connect(start, weak=False)
    worker_shutdown.connect(end, weak=False)
