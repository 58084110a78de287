"""The maintained current row (results.is_current) always equals the rule of storage.current.

Random sequences of writes, activations, rollbacks and deletions run on SQLite here (and on
PostgreSQL in tests/integration/test_current_pointer_pg.py); after every step the flagged rows
must be exactly those the rule picks, evaluated from scratch with window functions (the
oracle: the view as it was computed before the flag existed).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from mobilabel.storage import Database, jobs, open_database, versions
from mobilabel.storage.pruning import delete_job, delete_paths
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.results import RankedLabels, ResultRecord, insert_results, write_results
from mobilabel.storage.states import JobState, ResultStatus
from mobilabel.storage.tables import Job, ModelVersion, Result

PATHS = [f"/p/{name}.jpg" for name in "abcdefgh"]
HASHES = ["h1", "h2", None]
STEPS = 60


def rule_current_ids() -> Select[Any]:
    """The current row of every path by the rule, with window functions over all rows."""
    candidate = Result.__table__.alias("candidate")
    newest_hash = func.first_value(candidate.c.content_hash).over(
        partition_by=candidate.c.image_path, order_by=(candidate.c.updated_at.desc(), candidate.c.id.desc())
    )
    rows = select(
        candidate.c.id,
        candidate.c.image_path,
        candidate.c.content_hash,
        candidate.c.status,
        candidate.c.model_version_id,
        ModelVersion.created_at.label("version_created_at"),
        newest_hash.label("newest_hash"),
    ).join(ModelVersion, ModelVersion.id == candidate.c.model_version_id)
    c = rows.subquery("candidates")
    active = select(ModelVersion.id).where(ModelVersion.active.is_(True)).scalar_subquery()
    same_content = or_(c.c.content_hash == c.c.newest_hash, c.c.content_hash.is_(None), c.c.newest_hash.is_(None))
    rank = func.row_number().over(
        partition_by=c.c.image_path,
        order_by=(
            _first(same_content),
            _first(c.c.status == ResultStatus.OK),
            _first(c.c.model_version_id == active),
            c.c.version_created_at.desc(),
            c.c.id.desc(),
        ),
    )
    ranked = select(c.c.id, rank.label("rank")).subquery("ranked")
    return select(ranked.c.id).where(ranked.c.rank == 1)


def _first(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 0), else_=1)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pointer.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url, auto_upgrade=True)
    yield database
    database.dispose()


def _record(rng: random.Random, path: str) -> ResultRecord:
    content_hash = rng.choice(HASHES)
    if rng.random() < 0.25:
        return ResultRecord(path, "1:1", ResultStatus.FAILED, error="corrupt", content_hash=content_hash)
    label = rng.choice(["daisy", "roses"])
    return ResultRecord(
        path, "1:1", ResultStatus.OK, label, rng.random(), [{"label": label, "confidence": 0.5}], content_hash=content_hash
    )


def _step(session: Session, rng: random.Random) -> str:
    """One random change; returns what it did, for the failure message."""
    live = [v.id for v in versions.list_versions(session)]
    active = versions.active_version_id(session)
    action = rng.choices(
        ["write", "register", "activate", "rollback", "delete version", "delete job", "prune", "relabel"],
        weights=[8, 1, 2, 2, 1, 1, 1, 1],
    )[0]
    if action == "register" or not live:
        version_id = f"v{rng.randrange(6)}"  # sometimes one deleted before: registering brings it back
        versions.register_version(
            session, versions.VersionRecord(version_id, "m", 1.0, ["daisy", "roses"], {}, version_id.encode())
        )
        return f"register {version_id}"
    if action == "write":
        version_id = rng.choice(live)
        job_id = jobs.create_job(session, "/p", version_id).id if rng.random() < 0.7 else None
        records = [_record(rng, path) for path in rng.sample(PATHS, rng.randint(1, 4))]
        keep = rng.random() < 0.2
        write_results(session, records, version_id, job_id, keep_existing=keep)
        if job_id is not None:
            jobs.finish_job(session, job_id, JobState.COMPLETED)
        return f"write {[(r.image_path, r.status, r.content_hash) for r in records]} by {version_id} keep={keep}"
    if action == "activate":
        version_id = rng.choice(live)
        versions.activate_version(session, version_id)
        return f"activate {version_id}"
    if action == "relabel":  # as a quick head: a new version's rows written current, then activated (hand_over)
        version_id = f"q{len(live)}-{rng.randrange(10**9)}"
        versions.register_version(session, versions.VersionRecord(version_id, "m", 1.0, ["daisy", "roses"], {}, b"q"))
        paths = rng.sample(PATHS, rng.randint(1, len(PATHS)))
        ranked = np.array([rng.sample(range(2), 2) for _ in paths])
        labels = RankedLabels(
            paths,
            ["1:1"] * len(paths),
            [rng.choice(["h1", "h2"]) for _ in paths],
            ["daisy", "roses"],
            ranked,
            np.array([[0.7, 0.3]] * len(paths)),
        )
        insert_results(session, labels, version_id)
        versions.activate_version(session, version_id, written_current=True)
        return f"relabel {paths} by {version_id}"
    if action == "rollback":
        try:
            return f"rollback to {versions.rollback(session)}"
        except versions.NothingToRollBackError:
            return "rollback: nothing"
    if action == "delete version":
        candidates = [v for v in live if v != active]
        if not candidates:
            return "delete version: none"
        version_id = rng.choice(candidates)
        versions.delete_version(session, version_id)
        return f"delete version {version_id}"
    if action == "delete job":
        finished = list(session.scalars(select(Job.id).where(Job.status == JobState.COMPLETED)))
        if not finished:
            return "delete job: none"
        job_id = rng.choice(finished)
        delete_job(session, job_id)
        return f"delete job {job_id}"
    gone = rng.sample(PATHS, 1)
    delete_paths(session, gone)
    return f"prune {gone}"


@pytest.mark.parametrize("seed", range(4))
def test_the_current_flag_equals_the_rule_after_any_sequence_of_changes(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    done: list[str] = []
    with db.transaction() as session:
        for version_id in ("v0", "v1"):
            versions.register_version(
                session, versions.VersionRecord(version_id, "m", 1.0, ["daisy", "roses"], {}, version_id.encode())
            )
    for _ in range(STEPS):
        with db.transaction() as session:
            done.append(_step(session, rng))
        with db.transaction() as session:
            flagged = set(session.scalars(select(Result.id).where(Result.is_current)))
            expected = set(session.scalars(rule_current_ids()))
            shown = {r.id for r in query_results(session, ResultFilter(limit=None))}
        assert flagged == expected, f"seed {seed}, after: " + "; ".join(done[-5:])
        assert shown == expected
    assert any(a.startswith("activate") for a in done) and any(a.startswith("delete version v") for a in done)


def test_a_relabel_written_current_leaves_the_rule_right_for_images_it_did_not_relabel(db: Database) -> None:
    # /p/a: rows of "old" (active) and "newer" (created later, never active); the relabel writes /p/b only. Once
    # "old" is no longer active, /p/a's current row is "newer"'s (the newest version's), which only the rule gives.
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with db.transaction() as session:
        for age, version_id in enumerate(("old", "newer", "quick")):
            record = versions.VersionRecord(
                version_id, "m", 1.0, ["daisy", "roses"], {}, b"x", created_at=created + timedelta(days=age)
            )
            versions.register_version(session, record)
        versions.activate_version(session, "old")
        for version_id in ("old", "newer"):
            write_results(
                session,
                [ResultRecord(path, "1:1", ResultStatus.OK, "daisy", 0.5, content_hash="h") for path in PATHS[:2]],
                version_id,
                None,
            )
    with db.transaction() as session:
        one = RankedLabels([PATHS[1]], ["1:1"], ["h"], ["daisy", "roses"], np.array([[1, 0]]), np.array([[0.8, 0.2]]))
        insert_results(session, one, "quick")
        versions.activate_version(session, "quick", written_current=True)
    with db.transaction() as session:
        current = {
            str(p): str(v)
            for p, v in session.execute(select(Result.image_path, Result.model_version_id).where(Result.is_current))
        }
        assert set(session.scalars(select(Result.id).where(Result.is_current))) == set(session.scalars(rule_current_ids()))
    assert current == {PATHS[0]: "newer", PATHS[1]: "quick"}
