"""Retraining schedules: seconds or cron, and clear errors otherwise."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab

from mobilabel.config import load_settings
from mobilabel.scheduler.beat import ScheduleError, beat_schedule, parse_schedule


def test_seconds_and_cron_expressions() -> None:
    assert parse_schedule("3600") == timedelta(hours=1)
    nightly = parse_schedule("0 3 * * *")
    assert isinstance(nightly, crontab) and nightly.hour == {3} and nightly.minute == {0}


@pytest.mark.parametrize("text", ["0", "every day", "0 3 * *", "99 3 * * *"])
def test_a_bad_schedule_is_a_clear_error(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text)


def test_the_beat_schedule_sweeps_always_and_retrains_when_asked(tmp_path: Path) -> None:
    settings = load_settings()
    assert set(beat_schedule(settings, "", None, relabel=False)) == {"sweep"}
    entries = beat_schedule(settings, "60", tmp_path, relabel=True)
    assert entries["retrain"]["kwargs"] == {"data_dir": str(tmp_path), "relabel": True}
    assert entries["retrain"]["options"] == {"queue": "cpu"}
    # No folder (neither MOBILABEL_TRAIN_DIR nor --data): the schedule trains on the answers alone.
    assert beat_schedule(settings, "60", None, relabel=False)["retrain"]["kwargs"] == {"data_dir": None, "relabel": False}
