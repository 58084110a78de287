"""Tables read well in a pipe (80 columns): ids, dates and states whole, long paths shortened from the left."""

from __future__ import annotations

from click.testing import CliRunner

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database
from mobilabel.storage.states import JobState

DEEP = "/srv/photos/2024/summer holiday in the mountains/day 3/camera roll/originals"


def test_jobs_in_a_pipe_fit_80_columns_without_breaking_an_id_a_date_or_a_state() -> None:
    database = open_database(load_settings().database_url, auto_upgrade=True)
    with database.transaction() as session:
        for _ in range(3):
            job = stored_jobs.create_job(session, DEEP, None, status=JobState.COMPLETED)
        stored_jobs.set_total(session, job.id, 123456)
    database.dispose()
    listed = CliRunner().invoke(cli, ["jobs"])  # not a terminal: rich lays it out for 80 columns
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert max(len(line) for line in lines) <= 80, listed.output
    (row,) = [line for line in lines if line.startswith("3 ")]
    assert "completed" in row and "123456" in row, listed.output
    assert row.rstrip().endswith("camera roll/originals") and "…" in row, "a long path keeps its end"
    created = job.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    assert created in row, listed.output
