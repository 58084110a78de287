"""Celery beat: the sweeper on a short interval, retraining on the configured schedule."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.schedules import crontab

from ..broker import DEFAULT_QUEUE, RETRAIN, SWEEP
from ..config import Settings
from ..errors import MobilabelError
from .leader import leader_scheduler


class ScheduleError(MobilabelError, ValueError):
    """A schedule that is neither a number of seconds nor a cron expression."""


def parse_schedule(text: str) -> timedelta | crontab:
    """``"3600"`` (seconds between runs) or a five-field cron expression (``"0 3 * * *"``)."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
        if seconds <= 0:
            raise ScheduleError("a retraining interval must be positive")
        return timedelta(seconds=seconds)
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"schedule {text!r}: give seconds (e.g. 86400) or a cron expression of five fields (e.g. '0 3 * * *')"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(minute, hour, day_of_week, day_of_month, month_of_year)
    except (ValueError, TypeError) as exc:
        raise ScheduleError(f"schedule {text!r}: {exc}") from exc


def beat_schedule(settings: Settings, schedule: str, train_dir: Path | None, relabel: bool) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {
        "sweep": {
            "task": SWEEP,
            "schedule": timedelta(seconds=settings.sweep_interval_s),
            # A sweep nobody ran in time is dropped: the next one does its work.
            "options": {"queue": DEFAULT_QUEUE, "expires": settings.sweep_interval_s},
        },
    }
    if schedule:
        entries["retrain"] = {
            "task": RETRAIN,
            "schedule": parse_schedule(schedule),
            # The path as given, made absolute; none (no MOBILABEL_TRAIN_DIR nor --data): the answers alone.
            "kwargs": {"data_dir": os.path.abspath(train_dir) if train_dir is not None else None, "relabel": relabel},
            "options": {"queue": settings.train_queue},
        }
    return entries


def run_beat(app: Celery, settings: Settings, entries: dict[str, dict[str, Any]], loglevel: str) -> None:
    """Run beat until stopped; it sends only while it is the active scheduler (``leader``)."""
    app.conf.beat_schedule = entries
    settings.home.mkdir(parents=True, exist_ok=True)
    beat = app.Beat(schedule=str(settings.home / "beat-schedule"), loglevel=loglevel, scheduler=leader_scheduler(settings))
    beat.run()
