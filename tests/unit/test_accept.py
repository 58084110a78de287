"""Calibrated confidence and `accept --precision P`: temperature scaling lowers an over-confident model's ECE;
the rule's precision holds on images it was not fitted on; a person's answer is never changed; the re-check
counts kept, newly accepted, withdrawn and changed labels; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mobilabel.acceptance import HeldOut, choose, fewest_answers, lower_bound
from mobilabel.accepting import accept
from mobilabel.calibration import calibrate, reliability, softmax
from mobilabel.cli.accepting import needs, summary
from mobilabel.cli.main import cli
from mobilabel.storage import Database, open_database, versions
from mobilabel.storage.acceptance_queries import Scored, accepted_labels
from mobilabel.storage.acceptances import replace_acceptances
from mobilabel.storage.corrections import CorrectionRecord, save_corrections
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.review_state import reviews
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Correction
from mobilabel.storage.trained_answers import record_held_out_predictions, record_trained
from tests.api_support import ClientFactory, api  # noqa: F401

CLASSES = ["daisy", "roses"]


def over_confident(count: int, seed: int, sharpen: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits (count, 4) of a model ``sharpen`` times too sure, and labels drawn from its true probabilities."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.5, size=(count, 4))
    truth = softmax(true_logits)
    labels = np.array([rng.choice(4, p=p) for p in truth])
    return true_logits * sharpen, labels


def test_temperature_scaling_lowers_an_over_confident_models_ece() -> None:
    logits, labels = over_confident(3000, seed=1)
    fitted = calibrate(logits, labels)
    assert fitted.temperature == pytest.approx(3.0, rel=0.15), "it recovers how much too sure the model is"
    assert fitted.ece_before > 0.1 and fitted.ece_after < fitted.ece_before / 3
    # On images it was not fitted on too.
    test_logits, test_labels = over_confident(3000, seed=2)
    right = test_logits.argmax(1) == test_labels
    before, _ = reliability(softmax(test_logits).max(1), right)
    after, bins = reliability(softmax(test_logits, fitted.temperature).max(1), right)
    assert after < before / 3
    assert sum(b.count for b in bins) == 3000


def calibrated_draw(rng: random.Random, count: int) -> list[HeldOut]:
    """A calibrated model's outputs: confidence c is right with probability c."""
    out = []
    for _ in range(count):
        confidence = 0.5 + 0.5 * rng.random() ** 0.3
        out.append(HeldOut(rng.choice(CLASSES), confidence, rng.random() < confidence))
    return out


@pytest.mark.parametrize("precision", [0.9, 0.95])
def test_the_accepted_precision_holds_on_images_the_rule_was_not_fitted_on(precision: float) -> None:
    rng = random.Random(7)
    misses = accepted_runs = 0
    for _ in range(40):
        rule = choose(calibrated_draw(rng, 800), CLASSES, precision)
        test = calibrated_draw(rng, 4000)
        taken = [h for h in test if (t := rule.threshold_of(h.label)) is not None and h.confidence >= t]
        if taken:
            accepted_runs += 1
            misses += sum(h.right for h in taken) / len(taken) < precision
    assert accepted_runs >= 25, "800 held-out answers are mostly enough to accept something"
    assert misses <= 4, "a 95% bound: about 5% of draws at most fall below it"


def test_the_bound_is_clopper_pearson() -> None:
    assert lower_bound(10, 10) == pytest.approx(0.05 ** (1 / 10), abs=1e-9)  # all right: alpha**(1/n)
    assert lower_bound(0, 5) == 0.0
    assert fewest_answers(0.98) == 149
    rule = choose([HeldOut("daisy", 0.99, True)] * 100, CLASSES, 0.98)
    assert rule.threshold is None and rule.more_needed == 49, "149 all right are the fewest that reach 0.98"
    assert rule.classes["roses"].threshold is None


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, auto_upgrade=True)
    yield database
    database.dispose()


def library(db: Database, version: str, rows: dict[str, tuple[str, float]], train_on: tuple[str, ...] = ()) -> None:
    """Register ``version`` (active) labelling content ``h`` at /library/h.jpg as ``rows[h]`` = (label, confidence)."""
    with db.transaction() as session:
        versions.register_version(
            session, versions.VersionRecord(version, "mobilenet_v2", 1.0, CLASSES, {}, b"w" + version.encode())
        )
        versions.activate_version(session, version)
        records = [
            ResultRecord(
                f"/library/{h}.jpg", "1:1", ResultStatus.OK, label, p, [{"label": label, "confidence": p}], content_hash=h
            )
            for h, (label, p) in rows.items()
        ]
        write_results(session, records, version, None)
        record_trained(session, version, train_on)


def answer(db: Database, answers: dict[str, str]) -> None:
    with db.transaction() as session:
        save_corrections(
            session, [CorrectionRecord(f"/library/{h}.jpg", label, h) for h, label in answers.items()], reviewer="ann"
        )


def standing_answers(db: Database) -> list[tuple[str | None, str, str | None, object]]:
    with db.transaction() as session:
        rows = session.execute(select(Correction.content_hash, Correction.label, Correction.reviewer, Correction.updated_at))
        return sorted(tuple(r) for r in rows)


def held_out_library(right: int, wrong: int = 0) -> tuple[dict[str, tuple[str, float]], dict[str, str]]:
    """Results and answers of ``right + wrong`` held-out images, all at confidence 0.9995."""
    rows = {f"a{n:03d}": (CLASSES[n % 2], 0.9995) for n in range(right + wrong)}
    answers = {h: (label if n < right else CLASSES[1 - n % 2]) for n, (h, (label, _)) in enumerate(rows.items())}
    return rows, answers


def test_accept_takes_sure_suggestions_and_never_touches_an_answer(db: Database) -> None:
    rows, answers = held_out_library(100)
    rows |= {
        "s1": ("daisy", 0.9992),
        "s2": ("roses", 0.9999),
        "s3": ("daisy", 0.6),
        "p1": ("daisy", 0.9999),
        "p2": ("roses", 0.9999),
    }
    rows |= {"t1": ("daisy", 0.9999)}
    library(db, "v1", rows, train_on=("t1",))
    answer(db, answers)
    answer(db, {"p1": "roses", "p2": "skip", "t1": "daisy"})  # a person disagrees, is not sure, trained on
    before = standing_answers(db)
    report = accept(db, 0.95)
    # p1 is held out and wrong; t1 was trained on and p2 skipped: neither counts.
    assert (report.rule.threshold, report.rule.answers, report.rule.right) == (0.999, 101, 100)
    assert report.total == 2 and report.accepted == {"daisy": 1, "roses": 1}
    with db.transaction() as session:
        assert set(accepted_labels(session)) == {"s1", "s2"}
        found = reviews(session, ["s1", "s3", "p1", "p2"])
        assert [found[h].state for h in ("s1", "s3", "p1", "p2")] == ["accepted", "suggested", "verified", "verified"]
        assert found["s1"].accepted_by_version == "v1" and found["s1"].accepted_threshold == 0.999
        accepted = query_results(session, ResultFilter(review_states=("accepted",)))
        assert sorted(r.content_hash or "" for r in accepted) == ["s1", "s2"]
    assert standing_answers(db) == before, "no answer changed"
    accept(db, 0.5)
    assert standing_answers(db) == before


def test_out_of_fold_predictions_of_trained_answers_count_as_held_out(db: Database) -> None:
    rows, answers = held_out_library(100)
    # A version trained on every answer (a quick head): its own labels of them say nothing, its out-of-fold ones do.
    library(db, "v1", rows | {"s1": ("daisy", 0.9999)}, train_on=tuple(rows))
    answer(db, answers)
    assert accept(db, 0.95, dry_run=True).rule.answers == 0
    with db.transaction() as session:
        wrong = [(h, "roses" if label == "daisy" else "daisy", 0.9995) for h, (label, _) in list(rows.items())[:50]]
        right = [(h, label, 0.9995) for h, (label, _) in list(rows.items())[50:]]
        record_held_out_predictions(session, "v1", wrong + right)
    report = accept(db, 0.4, dry_run=True)
    assert (report.rule.answers, report.rule.right) == (100, 50), "the out-of-fold predictions, not the version's own labels"


def test_a_class_short_of_answers_accepts_nothing_and_says_how_many_more(db: Database) -> None:
    rows = {f"a{n:03d}": ("daisy" if n < 80 else "roses", 0.9995) for n in range(100)}
    answers = {h: "daisy" for h in rows}  # every roses suggestion was wrong: 80 of 100 right in all
    library(db, "v1", rows | {"s1": ("daisy", 0.9999), "s2": ("roses", 0.9999)})
    answer(db, answers)
    report = accept(db, 0.7, dry_run=True)
    assert report.rule.threshold is not None and report.accepted == {"daisy": 1, "roses": 0}
    assert report.rule.classes["roses"].threshold is None and report.rule.classes["roses"].more_needed > 0
    with db.transaction() as session:
        assert accepted_labels(session) == {}, "a dry run stores nothing"


def test_running_again_rechecks_every_accepted_label(db: Database) -> None:
    rows, answers = held_out_library(100)
    library(db, "v1", rows | {h: ("daisy", 0.9999) for h in ("k1", "k2", "c1", "w1", "x1")})
    answer(db, answers)
    with db.transaction() as session:
        old = [Scored(h, f"/library/{h}.jpg", "daisy", 0.9999) for h in ("k1", "k2", "c1", "w1", "x1")]
        replace_acceptances(session, old, (), "v1", 0.999, 0.95)
    answer(db, {"x1": "roses"})  # a person answered an accepted label since: it is theirs now
    # Version v2 labels the same images: k1 and k2 sure as before, c1 now roses, w1 unsure, n1 new and sure.
    new = {"k1": ("daisy", 0.9999), "k2": ("daisy", 0.9998), "c1": ("roses", 0.9999), "w1": ("daisy", 0.55)}
    library(db, "v2", rows | new | {"n1": ("roses", 0.9999), "x1": ("daisy", 0.9999)})
    report = accept(db, 0.95)
    daisy, roses = report.changes["daisy"], report.changes["roses"]
    assert (daisy.kept, daisy.newly, daisy.withdrawn, daisy.changed) == (2, 0, 1, 0)
    assert (roses.kept, roses.newly, roses.withdrawn, roses.changed) == (0, 1, 0, 1)
    assert report.answered == 1
    assert "1 accepted label went back to suggested: they do not clear the rule at precision 0.95" in "\n".join(
        summary(report)
    )  # said after the table, not only counted in its withdrawn column
    with db.transaction() as session:
        assert accepted_labels(session) == {"k1": "daisy", "k2": "daisy", "c1": "roses", "n1": "roses"}
        assert reviews(session, ["k1"])["k1"].accepted_by_version == "v2"


def test_the_command_prints_per_class_and_results_filter_on_review_state(db: Database) -> None:
    runner = CliRunner()
    nothing = runner.invoke(cli, ["accept", "--precision", "0.95"])
    assert nothing.exit_code == 1 and nothing.output.startswith("Error: no version of your own is active")
    rows, answers = held_out_library(60)
    library(db, "v1", rows | {"s1": ("daisy", 0.9999), "s2": ("roses", 0.4)})
    answer(db, answers)
    done = runner.invoke(cli, ["accept", "--precision", "0.95", "--format", "json"])
    assert done.exit_code == 0, done.output
    table = json.loads(done.stdout)
    assert [(r["class"], r["accepted"], r["newly_accepted"]) for r in table] == [("daisy", 1, 1), ("roses", 0, 0)]
    assert "accepted 1 of 2 suggestions" in done.stderr
    listed = runner.invoke(cli, ["results", "--review-state", "accepted,suggested", "--format", "jsonl"])
    states = {json.loads(line)["image_path"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert states["/library/s1.jpg"]["review_state"] == "accepted" and states["/library/s2.jpg"]["review_state"] == "suggested"
    assert states["/library/s1.jpg"]["accepted_by_version"] == "v1" and states["/library/s1.jpg"]["accepted_threshold"] == 0.999
    assert len(states) == 2, "answered images are verified"
    bad = runner.invoke(cli, ["results", "--review-state", "sure"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: unknown review state 'sure'")
    for fmt in ("csv", "json"):
        assert "review_state" in runner.invoke(cli, ["results", "--format", fmt]).stdout


def failed(db: Database, version: str, hashes: dict[str, str | None]) -> None:
    """Rows of ``version`` for images it could not decode: /library/<name>.jpg with content ``hashes[name]``."""
    with db.transaction() as session:
        records = [
            ResultRecord(f"/library/{name}.jpg", "1:1", ResultStatus.FAILED, error="corrupt JPEG", content_hash=h)
            for name, h in hashes.items()
        ]
        write_results(session, records, version, None)


def test_a_failed_row_has_no_review_state_and_is_never_accepted(db: Database, api: ClientFactory) -> None:  # noqa: F811
    rows, answers = held_out_library(60)
    library(db, "v1", rows | {"s1": ("daisy", 0.9999), "s2": ("roses", 0.4)})
    answer(db, answers | {"f3": "roses"})
    # f1 read but not decoded, f2 not read at all, f3 not decoded but a person answered its content.
    failed(db, "v1", {"f1": "f1", "f2": None, "f3": "f3"})
    runner = CliRunner()
    assert runner.invoke(cli, ["accept", "--precision", "0.95"]).exit_code == 0
    with db.transaction() as session:
        assert accepted_labels(session) == {"s1": "daisy"}, "only an ok row's label is accepted"
    expected = {"/library/f1.jpg": None, "/library/f2.jpg": None, "/library/f3.jpg": "verified"}
    for fmt in ("json", "jsonl"):
        listed = runner.invoke(cli, ["results", "--status", "failed", "--format", fmt])
        found = json.loads(listed.stdout) if fmt == "json" else [json.loads(line) for line in listed.stdout.splitlines()]
        assert {r["image_path"]: r["review_state"] for r in found} == expected, fmt
    as_csv = runner.invoke(cli, ["results", "--status", "failed", "--format", "csv"]).stdout.splitlines()
    state = as_csv[0].split(",").index("review_state")
    assert {line.split(",")[0]: line.split(",")[state] for line in as_csv[1:]} == {
        path: state or "" for path, state in expected.items()
    }
    table = runner.invoke(cli, ["results", "--status", "failed"], env={"COLUMNS": "200"}).stdout
    assert "verified" in table and "suggested" not in table
    suggested = runner.invoke(cli, ["results", "--review-state", "suggested", "--format", "jsonl"]).stdout.splitlines()
    assert [json.loads(line)["image_path"] for line in suggested] == ["/library/s2.jpg"]
    client = api()
    page = client.get("/api/results", params={"status": "failed"}).json()["items"]
    assert {r["image_path"]: r["review_state"] for r in page} == expected
    page = client.get("/api/results", params={"review_state": "suggested"}).json()["items"]
    assert [r["image_path"] for r in page] == ["/library/s2.jpg"]
    every_state = client.get("/api/results", params={"review_state": "verified,accepted,suggested", "limit": 1000})
    assert {r["image_path"] for r in every_state.json()["items"]} & set(expected) == {"/library/f3.jpg"}


def test_the_api_accepts_and_shows_review_states(database_url: str, api: ClientFactory) -> None:  # noqa: F811
    database = open_database(database_url, auto_upgrade=True)
    rows, answers = held_out_library(60)
    library(database, "v1", rows | {"s1": ("daisy", 0.9999)})
    answer(database, answers)
    database.dispose()
    client = api()
    done = client.post("/api/accept", json={"precision": 0.95})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["accepted"] == 1 and body["threshold"] == 0.999
    assert [c["label"] for c in body["classes"]] == CLASSES and body["classes"][0]["newly_accepted"] == 1
    page = client.get("/api/results", params={"review_state": "accepted"}).json()["items"]
    assert [(r["content_hash"], r["review_state"], r["accepted_by_version"]) for r in page] == [("s1", "accepted", "v1")]
    assert client.get("/api/results", params={"review_state": "nope"}).status_code == 422
    assert client.post("/api/accept", json={"precision": 1.5}).status_code == 422


def test_the_api_shows_a_versions_calibration(database_url: str, api: ClientFactory) -> None:  # noqa: F811
    database = open_database(database_url, auto_upgrade=True)
    logits, labels = over_confident(500, seed=3)
    fitted = calibrate(logits, labels)
    with database.transaction() as session:
        versions.register_version(
            session, versions.VersionRecord("cal", "mobilenet_v2", 1.0, CLASSES, {"calibration": fitted.to_dict()}, b"c")
        )
        versions.register_version(session, versions.VersionRecord("raw", "mobilenet_v2", 1.0, CLASSES, {}, b"r"))
    database.dispose()
    client = api()
    shown = client.get("/api/models/cal/calibration").json()
    assert (shown["temperature"], shown["images"]) == (fitted.temperature, 500)
    assert shown["ece_after"] < shown["ece_before"] and len(shown["reliability_after"]) == 15
    refused = client.get("/api/models/raw/calibration")
    assert refused.status_code == 404 and "not calibrated" in refused.json()["detail"]


def test_a_need_larger_than_the_unanswered_suggestions_is_said_plainly() -> None:
    # The newcomer's 100-image library: "572 more answers" for a class is not a number anyone can act on.
    assert needs(572, 82) == "more answers than the 82 unanswered"
    assert needs(40, 82) == "40 more answers" and needs(0, 82) == ""
