"""Own classes on PostgreSQL, as separate processes use it: two reviewers' leases taken over two
connection pools at once never overlap, and renaming or merging a class keeps every answer."""

from __future__ import annotations

import threading

from mobilabel.review_queue import next_batch
from mobilabel.storage import open_database, versions
from mobilabel.storage.class_queries import list_classes
from mobilabel.storage.classes import add_class, merge_classes, rename_class
from mobilabel.storage.corrections import CorrectionRecord, list_corrections, save_corrections
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus

LIBRARY = 60


def test_leases_over_two_pools_never_overlap_and_answers_survive_rename_and_merge(postgres_url: str) -> None:
    setup = open_database(postgres_url, auto_upgrade=True)
    with setup.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["a", "b"], {}, b"w"))
        write_results(session, [
            ResultRecord(f"/lib/{n:02d}.jpg", "1:1", ResultStatus.OK, "a", 0.5 + n / 200,
                         [{"label": "a", "confidence": 0.5 + n / 200}, {"label": "b", "confidence": 0.5 - n / 200}], content_hash=f"h{n:02d}")
            for n in range(LIBRARY)
        ], "v1", None)  # fmt: skip
    pools = {name: open_database(postgres_url) for name in ("ann", "bob", "cid")}
    barrier = threading.Barrier(len(pools))
    held: dict[str, set[int]] = {}

    def ask(name: str) -> None:
        barrier.wait()
        held[name] = {i.result_id for i in next_batch(pools[name], name, 25, 600).items}

    threads = [threading.Thread(target=ask, args=(name,)) for name in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in pools.values():
        database.dispose()
    assert sorted(len(ids) for ids in held.values()) == [10, 25, 25], "the last one gets what is left"
    assert len(set.union(*held.values())) == LIBRARY, "no image held twice"

    with setup.transaction() as session:
        for name in ("rose", "roses", "daisy"):
            add_class(session, name)
        save_corrections(
            session,
            [CorrectionRecord(f"/lib/{n:02d}.jpg", ("rose", "roses", "daisy")[n % 3], f"h{n:02d}") for n in range(9)],
            reviewer="ann",
        )
    with setup.transaction() as session:
        assert merge_classes(session, ["rose"], "roses") == 3
        assert rename_class(session, "roses", "Rosa") == 6
    with setup.transaction() as session:
        assert sorted(c.label for c in list_corrections(session)) == ["Rosa"] * 6 + ["daisy"] * 3
        assert {c.name: c.answers for c in list_classes(session)} == {"Rosa": 6, "daisy": 3, "other": 0, "skip": 0}
    setup.dispose()
