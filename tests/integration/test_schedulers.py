"""Two schedulers at once (two replicas of the service, a second host): one run per slot, the other stands by."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mobilabel.storage.tables import ModelVersion, TrainingRun
from tests.integration.conftest import Cluster, wait_until
from tests.integration.test_training_workers import small_training_folder


def test_two_schedulers_send_each_slot_once(cluster: Cluster, tmp_path: Path) -> None:
    data = small_training_folder(tmp_path / "data", per_class=4)
    cluster.start_worker("w1", concurrency=2)  # room to train twice at once, were it sent twice
    arguments = ["scheduler", "--schedule", "2", "--data", str(data)]
    first = cluster.start("scheduler-1", arguments, MOBILABEL_HEARTBEAT_S="1")
    wait_until(lambda: "is active" in first.log, 60, "the first scheduler to become active")
    # As on a second host: its own data folder (beat keeps its schedule file there).
    second = cluster.start("scheduler-2", arguments, MOBILABEL_HEARTBEAT_S="1", MOBILABEL_HOME=str(tmp_path / "second-host"))
    wait_until(lambda: "stands by" in second.log, 60, "the second scheduler to stand by")
    db = cluster.database()

    def runs() -> list[TrainingRun]:
        with db.transaction() as session:
            return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))

    wait_until(lambda: any(r.status == "completed" for r in runs()), 300, "the scheduled run to complete")
    # Slots kept falling due while it trained: each was sent once, and none started a second run.
    assert first.log.count("Sending due task retrain") >= 2
    assert "Sending due task" not in second.log
    first.kill_all()  # the active one goes away: the other takes over within three heartbeats
    wait_until(lambda: "is active" in second.log, 60, "the second scheduler to take over")
    wait_until(lambda: "Sending due task retrain" in second.log, 60, "the second scheduler to send a slot")
    second.kill_all()
    with db.transaction() as session:
        trained = session.scalars(select(ModelVersion.id).where(ModelVersion.source.like("trained on %"))).all()
    db.dispose()
    done = runs()
    assert [(r.trigger, r.status) for r in done] == [("schedule", "completed")], [(r.id, r.status, r.error) for r in done]
    assert trained == [done[0].version_id], "one slot, one new version"
