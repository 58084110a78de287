"""The review queue: least margin, spread, audit share; leases that two reviewers never share; answered,
skipped and retired handled; `review next --format csv` answered back with `correct --csv`; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilabel.cli.main import cli
from mobilabel.estimates import estimate
from mobilabel.hashing import hash_file
from mobilabel.review_queue import AUDIT_SHARE, DIVERSE, ENTROPY, MARGIN, UNCERTAIN, Strategy, audit_count, next_batch, spread
from mobilabel.storage import Database, open_database, versions
from mobilabel.storage.accuracy_queries import audit_outcomes
from mobilabel.storage.classes import add_class, retire_class
from mobilabel.storage.corrections import AUDIT, CorrectionRecord, list_corrections, save_corrections
from mobilabel.storage.queue_queries import Candidate
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.trained_answers import record_held_out_predictions, record_trained
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS

LIBRARY = 40


def ranked(first: str, p1: float, second: str, p2: float) -> list[dict[str, object]]:
    return [{"label": first, "confidence": p1}, {"label": second, "confidence": p2}]


@pytest.fixture
def db(database_url: str) -> Database:
    """A library of 40 labelled images (fake content): image n has margin n/100, daisy or roses suggested in turn."""
    database = open_database(database_url, auto_upgrade=True)
    with database.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["daisy", "roses"], {}, b"w"))
        versions.activate_version(session, "v1")
        records = []
        for n in range(LIBRARY):
            first, second = ("daisy", "roses") if n % 2 else ("roses", "daisy")
            p1 = 0.5 + n / 200
            records.append(
                ResultRecord(
                    f"/library/{n:02d}.jpg",
                    "1:1",
                    ResultStatus.OK,
                    first,
                    p1,
                    ranked(first, p1, second, 1 - p1),
                    content_hash=f"h{n:02d}",
                )
            )
        write_results(session, records, "v1", None)
    yield database
    database.dispose()


def test_a_batch_is_the_least_margin_spread_over_labels_plus_an_audit_share(db: Database) -> None:
    batch = next_batch(db, "ann", 10, 600, Strategy(MARGIN, diverse=True))
    reasons = [i.reason for i in batch.items]
    assert len(batch.items) == 10 and reasons.count(AUDIT) == round(10 * AUDIT_SHARE)
    asked = [i for i in batch.items if i.reason != AUDIT]
    assert [i.image_path for i in asked] == [f"/library/{n:02d}.jpg" for n in range(9)], "least margin first"
    assert all(a.suggested_label != b.suggested_label for a, b in zip(asked, asked[1:], strict=False)), "labels alternate"
    assert {i.reason for i in asked} == {UNCERTAIN}
    assert batch.left == LIBRARY - 10
    assert len({i.result_id for i in batch.items}) == 10


def test_round_robin_reaches_a_label_the_margin_order_alone_would_not(database_url: str) -> None:
    database = open_database(database_url, auto_upgrade=True)
    with database.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["daisy", "roses"], {}, b"w"))
        records = [
            ResultRecord(
                f"/l/d{n}.jpg",
                "1:1",
                ResultStatus.OK,
                "daisy",
                0.5,
                ranked("daisy", 0.5 + n / 100, "roses", 0.5 - n / 100),
                content_hash=f"d{n}",
            )
            for n in range(6)
        ]
        records.append(
            ResultRecord("/l/r.jpg", "1:1", ResultStatus.OK, "roses", 0.9, ranked("roses", 0.9, "daisy", 0.1), content_hash="r")
        )
        write_results(session, records, "v1", None)
        versions.activate_version(session, "v1")
    items = next_batch(database, "ann", 3, 600, Strategy(MARGIN, diverse=True)).items
    by_margin = next_batch(database, "bob", 3, 600).items  # the default: least margin in order (bench/loop.py's best row)
    database.dispose()
    assert [(Path(i.image_path).name, i.reason) for i in items] == [
        ("d0.jpg", UNCERTAIN),
        ("r.jpg", DIVERSE),
        ("d1.jpg", UNCERTAIN),
    ]
    assert [(Path(i.image_path).name, i.reason) for i in by_margin] == [
        ("d2.jpg", UNCERTAIN),
        ("d3.jpg", UNCERTAIN),
        ("d4.jpg", UNCERTAIN),
    ], "no audit share in a batch of 3"


def test_with_only_the_imagenet_weights_the_batch_is_a_uniform_draw_spread_over_labels(database_url: str) -> None:
    database = open_database(database_url, auto_upgrade=True)
    with database.transaction() as session:
        versions.register_version(
            session, versions.VersionRecord("imagenet-0123", "mobilenet_v2", 1.0, ["daisy", "pot"], {}, b"w")
        )
        versions.activate_version(session, "imagenet-0123")
        records = [
            ResultRecord(
                f"/l/{n:02d}.jpg",
                "1:1",
                ResultStatus.OK,
                "daisy",
                0.5,
                ranked(("daisy", "pot")[n % 2], 0.5 + n / 100, "x", 0.1),
                content_hash=f"h{n}",
            )
            for n in range(30)
        ]
        write_results(session, records, "imagenet-0123", None)
    items = next_batch(database, "ann", 10, 600).items
    database.dispose()
    # Its margins are between ImageNet's classes, not yours: no image is asked as "uncertain".
    assert sorted(i.reason for i in items) == [AUDIT] + [DIVERSE] * 9
    asked = [i.suggested_label for i in items if i.reason == DIVERSE]
    pairs = min(asked.count("daisy"), asked.count("pot"))
    assert all(a != b for a, b in zip(asked[: 2 * pairs], asked[1 : 2 * pairs], strict=False)), (
        "round-robin over the suggested labels"
    )


def test_two_reviewers_asking_at_once_never_hold_the_same_image(db: Database) -> None:
    barrier = threading.Barrier(2)
    batches: dict[str, list[int]] = {}

    def ask(reviewer: str) -> None:
        barrier.wait()
        batches[reviewer] = [i.result_id for i in next_batch(db, reviewer, 15, 600).items]

    threads = [threading.Thread(target=ask, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(batches["ann"]) == len(batches["bob"]) == 15
    assert not set(batches["ann"]) & set(batches["bob"])
    rest = next_batch(db, "cid", 20, 600).items
    assert len(rest) == LIBRARY - 30 and not {i.result_id for i in rest} & set(batches["ann"] + batches["bob"])


def test_asking_again_gives_a_reviewer_their_own_unanswered_images_first(db: Database) -> None:
    """The newcomer's walkthrough asked for 20, then for 60 as CSV, and got 15 and '0 more': their own leases hid them."""
    first = next_batch(db, "ann", 5, 600).items
    answered = first[0]
    with db.transaction() as session:
        save_corrections(
            session, [CorrectionRecord(answered.image_path, "daisy", f"h{Path(answered.image_path).stem}")], new_classes=True
        )
    again = next_batch(db, "ann", 10, 600).items
    ids = [i.result_id for i in again]
    assert ids[:4] == [i.result_id for i in first[1:]], "the four unanswered ones, first, in lease order"
    assert [i.reason for i in again[:4]] == [i.reason for i in first[1:]], "with the reasons they were leased for"
    assert len(set(ids)) == 10 and answered.result_id not in ids
    others = {i.result_id for i in next_batch(db, "bob", LIBRARY, 600).items}
    assert not others & set(ids) and len(others) == LIBRARY - 11, "renewed leases still keep everyone else out"


def test_an_expired_lease_is_offered_again(db: Database) -> None:
    # A lease of 0 s has run out at once: the same least-margin images come first again (the audit draw is random).
    first = {i.result_id for i in next_batch(db, "ann", 5, 0).items if i.reason != AUDIT}
    assert {i.result_id for i in next_batch(db, "bob", 5, 600).items if i.reason != AUDIT} == first


def test_answered_images_leave_the_queue_skip_until_a_new_version_and_retired_classes_are_not_suggested(db: Database) -> None:
    with db.transaction() as session:
        add_class(session, "daisy")
        add_class(session, "roses")
        save_corrections(
            session, [CorrectionRecord("/library/00.jpg", "roses", "h00"), CorrectionRecord("/library/01.jpg", "skip", "h01")]
        )
        retire_class(session, "roses")
    items = next_batch(db, "ann", LIBRARY, 0).items
    paths = {i.image_path for i in items}
    assert "/library/00.jpg" not in paths and "/library/01.jpg" not in paths and len(items) == LIBRARY - 2
    assert {i.suggested_label for i in items} == {"daisy"}, "the retired class is not offered: the next ranked label is"
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v2", "mobilenet_v2", 1.0, ["daisy", "roses"], {}, b"w"))
        versions.activate_version(session, "v2")
    again = {i.image_path for i in next_batch(db, "ann", LIBRARY, 0).items}
    assert "/library/01.jpg" in again and "/library/00.jpg" not in again, "a skip is offered again once a new version is active"


def test_an_answer_to_an_audit_lease_is_an_audit_answer(db: Database) -> None:
    batch = next_batch(db, "ann", 10, 600).items
    audit = next(i for i in batch if i.reason == AUDIT)
    other = next(i for i in batch if i.reason != AUDIT)
    with db.transaction() as session:
        records = [CorrectionRecord(i.image_path, "daisy", f"h{Path(i.image_path).stem}") for i in (audit, other)]
        save_corrections(session, records, new_classes=True, reviewer="ann")
        flags = {c.image_path: c.audit for c in list_corrections(session)}
    assert flags == {audit.image_path: True, other.image_path: False}


def test_review_next_as_csv_is_answered_back_with_correct_csv_and_the_api_leases_too(
    database_url: str,
    tmp_path: Path,
    api: ClientFactory,
) -> None:
    database = open_database(database_url, auto_upgrade=True)
    folder = tmp_path / "unsorted"
    folder.mkdir()
    photos = [
        Path(shutil.copyfile(p, folder / f"{n}.jpg")) for n, p in enumerate(sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[:8])
    ]
    with database.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["daisy", "roses"], {}, b"w"))
        write_results(session, [
            ResultRecord(str(p), "1:1", ResultStatus.OK, "daisy", 0.6, ranked("daisy", 0.6, "roses", 0.4), content_hash=hash_file(p)) for p in photos
        ], "v1", None)  # fmt: skip
    database.dispose()
    runner = CliRunner()
    listed = runner.invoke(
        cli, ["review", "next", "--count", "5", "--format", "csv", "--reviewer", "ann"], catch_exceptions=False
    )
    assert listed.exit_code == 0, listed.output
    assert listed.stderr.strip() == "leased 5 images to ann for 600 s; 3 more to review"
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert list(rows[0]) == ["result_id", "image_path", "suggested_label", "confidence", "reason", "label"] and len(rows) == 5
    rows[0]["label"], rows[1]["label"] = "daisy", "other"  # the rest left unanswered
    table = tmp_path / "answers.csv"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    imported = runner.invoke(cli, ["correct", "--csv", str(table), "--new-class", "--reviewer", "ann"], catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    assert "3 rows without a label left unanswered" in imported.stderr and "stored 2 verified labels" in imported.stdout

    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path))
    served = client.post("/api/review/next", json={"reviewer": "bob", "count": 10})
    assert served.status_code == 200, served.text
    body = served.json()
    assert len(body["items"]) == 3 and body["left"] == 0 and body["expires_in_s"] == 600
    leased_to_ann = {r["image_path"] for r in rows[2:]}
    assert not leased_to_ann & {i["image_path"] for i in body["items"]}, "ann's unanswered images stay hers until her lease ends"
    assert client.post("/api/review/next", json={"reviewer": "", "count": 1}).status_code == 422
    assert (
        client.put(
            "/api/corrections", json={"result_id": int(rows[0]["result_id"]), "label": "skip", "reviewer": "bob"}
        ).status_code
        == 200
    )
    history = client.get("/api/corrections/history", params={"result_id": rows[0]["result_id"]}).json()
    assert [(a["label"], a["reviewer"]) for a in history] == [("daisy", "ann"), ("skip", "bob")], (
        "a changed answer keeps its history"
    )


def test_wilson_interval_of_audit_answers() -> None:
    found = estimate(8, 10)
    assert (found.accuracy, round(found.low or 0, 3), round(found.high or 0, 3)) == (0.8, 0.49, 0.943)
    assert found.text() == "0.80 (0.49-0.94) n=10"
    assert estimate(0, 0).text() == "no audit answers labelled by it" and estimate(5, 5).high == 1.0
    with pytest.raises(ValueError):
        estimate(3, 2)


def test_the_accuracy_on_the_unreviewed_rest_counts_audit_answers_only(db: Database, api: ClientFactory) -> None:
    batch = next_batch(db, "ann", 30, 600).items
    audits = [i for i in batch if i.reason == AUDIT]
    assert len(audits) == 3
    with db.transaction() as session:
        # v1 suggested each image's first ranked label: two audit answers agree, one does not, and one uncertain answer agrees.
        answers = [(audits[0], audits[0].suggested_label), (audits[1], audits[1].suggested_label), (audits[2], "other")]
        answers.append((next(i for i in batch if i.reason != AUDIT), None))
        records = [
            CorrectionRecord(i.image_path, label or str(i.suggested_label), f"h{Path(i.image_path).stem}") for i, label in answers
        ]
        save_corrections(session, records, new_classes=True)
        assert audit_outcomes(session, "v1") == (2, 3)
    (version,) = json.loads(CliRunner().invoke(cli, ["models", "--format", "json"], catch_exceptions=False).output)
    assert (version["audit_answers"], version["est_accuracy"]) == (3, 2 / 3) and 0 < version["est_low"] < 2 / 3 < version[
        "est_high"
    ] < 1
    served = api().get("/api/models/v1/estimate").json()
    assert (served["audit_answers"], served["right"], served["accuracy"]) == (3, 2, 2 / 3)


def test_held_out_figures_leave_out_the_answers_a_version_trained_on(db: Database, api: ClientFactory) -> None:
    with db.transaction() as session:
        records = [CorrectionRecord(f"/library/{n:02d}.jpg", "daisy", f"h{n:02d}") for n in range(6)]
        save_corrections(session, records, new_classes=True)
        record_trained(session, "v1", ["h00", "h01"])
    matrix = api().get("/api/models/v1/confusion").json()
    assert (matrix["images"], matrix["trained_on"]) == (4, 2)
    assert sum(cell["images"] for cell in matrix["cells"]) == 4
    # Out-of-fold predictions (their one home, held_out_predictions) bring trained-on answers back, counted apart;
    # one stored for an answer it did not train on changes nothing: that answer counts by the version's own label.
    with db.transaction() as session:
        record_held_out_predictions(session, "v1", [("h00", "roses", 0.9), ("h03", "roses", 0.9)])
    matrix = api().get("/api/models/v1/confusion").json()
    assert (matrix["images"], matrix["out_of_fold"], matrix["correct"]) == (5, 1, 2)
    assert {(c["verified"], c["predicted"]): c["images"] for c in matrix["cells"]} == {
        ("daisy", "daisy"): 2,
        ("daisy", "roses"): 3,
    }
    cell = api().get("/api/models/v1/confusion/images", params={"verified": "daisy", "predicted": "roses"}).json()
    assert sorted(r["image_path"][-6:] for r in cell) == ["00.jpg", "02.jpg", "04.jpg"]


def test_entropy_ranks_a_flat_suggestion_first_and_without_diversity_the_order_is_the_ranking() -> None:
    def candidate(i: int, label: str, ranked: list[float]) -> Candidate:
        top = [{"label": f"{label}{k}", "confidence": p} for k, p in enumerate(ranked)]
        return Candidate(i, f"/photos/{i}.jpg", str(i), top[0]["label"], ranked[0], top)  # type: ignore[arg-type]

    pool = [
        candidate(1, "a", [0.50, 0.49, 0.01]),  # the least margin, but nearly two outcomes only
        candidate(2, "a", [0.40, 0.30, 0.30]),  # flatter: the most entropy
        candidate(3, "b", [0.90, 0.05, 0.05]),
    ]
    by_margin = spread(pool, 2, strategy=Strategy(MARGIN, diverse=False))
    by_entropy = spread(pool, 2, strategy=Strategy(ENTROPY, diverse=False))
    assert [i.result_id for i in by_margin] == [1, 2] and [i.result_id for i in by_entropy] == [2, 1]
    assert {i.reason for i in by_margin} == {UNCERTAIN}
    spread_out = spread(pool, 2, strategy=Strategy(MARGIN, diverse=True))
    assert [i.result_id for i in spread_out] == [1, 3], "round-robin over the suggested label reaches b"
    assert audit_count(20, 0.0) == 0 and audit_count(20, 0.2) == 4
