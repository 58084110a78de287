"""`mobilabel scheduler`: Celery beat for sweeps and scheduled retraining."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from ..broker import create_app, reaching_broker
from ..config import Settings
from ..errors import MobilabelError
from ..logs import configure_logging
from ..scheduler.beat import beat_schedule, run_beat


@click.command()
@click.option("--schedule", help="Retrain every N seconds, or on a cron expression (default: MOBILABEL_SCHEDULE; empty: never).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    help="Training data folder (default: MOBILABEL_TRAIN_DIR; neither: train on the answers alone).",
)
@click.option("--relabel", is_flag=True, help="After a promotion, relabel the images of recent jobs with the new version.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.pass_obj
def scheduler(settings: Settings, schedule: str | None, data_dir: Path | None, relabel: bool, loglevel: str) -> None:
    """Run Celery beat: sweeps overdue chunks, and retrains on a schedule."""
    entries = beat_schedule(
        settings, settings.schedule if schedule is None else schedule, data_dir or settings.train_dir, relabel
    )
    configure_logging(loglevel)
    with reaching_broker(settings):
        run_beat(create_app(settings), settings, entries, loglevel)


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def flower(settings: Settings, flower_args: tuple[str, ...]) -> None:
    """Run Flower, Celery's monitoring web page, on this installation's broker (MOBILABEL_BROKER_URL and
    MOBILABEL_REDIS_PREFIX); FLOWER_ARGS go to Flower as they are, e.g. --port=5555 (Flower's --help lists them)."""
    if importlib.util.find_spec("flower") is None:
        raise MobilabelError("Flower is not installed here: pip install 'mobilabel[monitor]'")
    with reaching_broker(settings):
        create_app(settings).start(["flower", *flower_args])
