"""`mobilabel scheduler`: Celery beat for sweeps and scheduled retraining."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import Settings
from ..logs import configure_logging
from ..scheduler.beat import ScheduleError, beat_schedule, run_beat
from ..worker.app import create_app


@click.command()
@click.option("--schedule", help="Retrain every N seconds, or on a cron expression (default: MOBILABEL_SCHEDULE; empty: never).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Training data folder (default: MOBILABEL_TRAIN_DIR).")
@click.option("--relabel", is_flag=True, help="After a promotion, relabel the images of recent jobs with the new version.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.pass_obj
def scheduler(settings: Settings, schedule: str | None, data_dir: Path | None, relabel: bool, loglevel: str) -> None:
    """Run Celery beat: sweeps overdue chunks, and retrains on a schedule."""
    try:
        entries = beat_schedule(settings, settings.schedule if schedule is None else schedule, data_dir or settings.train_dir, relabel)
    except ScheduleError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(loglevel)
    run_beat(create_app(settings), settings, entries, loglevel)
