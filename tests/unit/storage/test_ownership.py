"""Owners, heartbeats and leases (SQLite and PostgreSQL): a silent owner's work is failed with the reason, a live one's is left alone."""

from __future__ import annotations

from datetime import timedelta

from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.database import server_timeouts
from mobilabel.storage.leases import live_holders, release_lease, take_lease
from mobilabel.storage.ownership import beat_job, claim_job, claim_run, reap_orphans
from mobilabel.storage.tables import Job, TrainingRun, utcnow


def test_silent_owners_are_reaped_and_live_ones_are_not(database_url: str) -> None:
    db = open_database(database_url, auto_upgrade=True)
    with db.transaction() as session:
        silent, live, distributed = (stored_jobs.create_job(session, f"/photos/{n}", None).id for n in range(3))
        claim_job(session, silent, "label 1@a")
        claim_job(session, live, "label 2@b")
        run = stored_runs.create_run(session, "/data", {}, False, False, "api").id
        stored_runs.start_run(session, run)
        claim_run(session, run, "worker a:3 task t")
    later = utcnow() + timedelta(seconds=31)  # three heartbeats of 10 s and a bit
    with db.transaction() as session:
        session.get_one(Job, live).heartbeat_at = later
        assert beat_job(session, silent, "label 9@z") is False, "only the owner beats"
    with db.transaction() as session:
        assert reap_orphans(session, 10.0, now=later) == ([silent], [run])
        assert reap_orphans(session, 10.0, now=later) == ([], []), "once"
    with db.transaction() as session:
        reaped, kept, chunked = (session.get_one(Job, j) for j in (silent, live, distributed))
        failed_run = session.get_one(TrainingRun, run)
    assert reaped.status == "failed" and "its process (label 1@a) stopped answering" in (reaped.error or "")
    assert "`mobilabel label /photos/0` labels the rest" in (reaped.error or "")
    assert (kept.status, chunked.status) == ("running", "running")
    assert failed_run.status == "failed" and "its worker (worker a:3 task t) stopped answering" in (failed_run.error or "")
    db.dispose()


def test_a_lease_has_one_holder_until_released_or_expired(database_url: str) -> None:
    db = open_database(database_url, auto_upgrade=True)
    with db.transaction() as session:
        assert take_lease(session, "scheduler", "a", timedelta(seconds=30)) is None
        assert take_lease(session, "scheduler", "b", timedelta(seconds=30)) == "a"
        assert take_lease(session, "scheduler", "a", timedelta(seconds=30)) is None, "renewed"
        assert live_holders(session, "sched") == ["a"]
        release_lease(session, "scheduler", "b")  # not b's to give up
        assert take_lease(session, "scheduler", "b", timedelta(seconds=30)) == "a"
        release_lease(session, "scheduler", "a")
        assert take_lease(session, "scheduler", "b", timedelta(seconds=-1)) is None
        assert take_lease(session, "scheduler", "c", timedelta(seconds=30)) is None, "b's expired"
    db.dispose()


def test_timeouts_are_shares_of_the_patience() -> None:
    timeouts = server_timeouts(120)
    assert (timeouts.connect_s, timeouts.keepalive_idle_s, timeouts.keepalive_interval_s, timeouts.statement_s) == (
        30,
        15,
        8,
        120,
    )
    assert timeouts.connect_args()["options"] == "-c statement_timeout=120000"
    assert server_timeouts(2).connect_s == 2, "libpq's minimum"
    assert server_timeouts(0).connect_args() == {"keepalives": 1}, "no patience: no timeouts"
