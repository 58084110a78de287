"""The check sample (issue 28): `accept` certifies the set it would take from check answers, a uniform draw of it."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mobilabel.accepting import accept
from mobilabel.cli.main import cli
from mobilabel.review_queue import next_batch
from mobilabel.storage import Database, open_database, versions
from mobilabel.storage.acceptance_queries import accepted_labels, check_request
from mobilabel.storage.corrections import CHECK, CorrectionRecord, save_corrections
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Correction
from mobilabel.storage.training_runs import quick_refresh_due
from mobilabel.training.inputs import verified_labels
from mobilabel.training.options import TrainingOptions
from mobilabel.verification import (
    candidate,
    certify,
    errors_bound,
    expected_taken,
    hypergeometric_cdf,
    least_checks,
    level_alpha,
    level_size,
)
from tests.api_support import ClientFactory, api  # noqa: F401

CLASSES = ["daisy", "roses"]


def test_the_errors_bound_is_the_exact_hypergeometric_one() -> None:
    size, drawn, seen, alpha = 60, 20, 1, 0.05

    def tail(wrong: int) -> float:  # P(at most `seen` wrong in the draw), by counting
        total = math.comb(size, drawn)
        return sum(math.comb(wrong, x) * math.comb(size - wrong, drawn - x) for x in range(seen + 1)) / total

    expected = max(e for e in range(seen, size - drawn + seen + 1) if tail(e) > alpha)
    assert errors_bound(size, drawn, seen, alpha) == expected
    assert hypergeometric_cdf(seen, size, expected, drawn) == pytest.approx(tail(expected))
    # A large set: no wrong answer in n draws bounds the error rate as the binomial does (P**n <= alpha).
    assert level_size(50_000, 0.98, 0) == pytest.approx(math.log(level_alpha(0)) / math.log(0.98), abs=2)
    assert sum(level_alpha(j) for j in range(100)) <= 0.05 + 1e-12


def test_a_set_with_no_wrong_label_is_expected_to_leave_all_but_its_first_level() -> None:
    assert expected_taken(5000, 0.0, 0.98) == 5000 - level_size(5000, 0.98, 0)
    # wrong labels make a certificate less likely: the same set, promised 1% wrong, is expected to leave fewer
    assert 0 < expected_taken(5000, 50.0, 0.98) < expected_taken(5000, 5.0, 0.98)


def test_the_candidate_set_leaves_out_suggestions_that_would_sink_its_certificate() -> None:
    # 2,000 sure suggestions and 2,000 at 0.95: together 2.55% wrong by their confidences, more than 0.98 allows,
    # so the candidate is the sure ones alone; with the others at 0.995 (0.3% wrong) the whole set leaves more.
    assert candidate([0.999] * 2000 + [0.95] * 2000, 0.98) == 0.999
    assert candidate([0.999] * 2000 + [0.995] * 2000, 0.98) == 0.995


def test_with_too_few_suggestions_the_candidate_is_the_sure_ones_or_none() -> None:
    # 18 sure suggestions leave nothing once checked: the candidate is still them, for `accept` to say so
    assert candidate([0.999] * 18 + [0.6] * 82, 0.98) == 0.999
    assert candidate([0.6] * 100, 0.98) is None


def test_check_answers_all_agreeing_certify_and_a_wrong_one_asks_for_the_next_level() -> None:
    size = 2000
    needed = level_size(size, 0.95, 0)
    assert needed is not None
    asked = certify([None] * size, 0.95, 0.99)
    assert not asked.certified and asked.wanted == needed and asked.more_needed == needed
    done = certify([True] * needed + [None] * (size - needed), 0.95, 0.99)
    assert done.certified and done.taken == size - needed and done.bound is not None and done.bound >= 0.95
    one_wrong = certify([False] + [True] * (needed - 1) + [None] * (size - needed), 0.95, 0.99)
    assert not one_wrong.certified and one_wrong.wanted == level_size(size, 0.95, 1)
    assert one_wrong.more_needed == one_wrong.wanted - needed
    # A small set: once one is wrong, no level short of the whole set is left.
    small = certify([False] + [None] * 99, 0.98, 0.99)
    assert small.more_needed is None and not small.certified


def test_looking_again_after_every_answer_keeps_the_error_below_five_percent() -> None:
    # The rest's precision is just below P: a certificate would be wrong. Answer one check at a time, looking each time.
    rng = random.Random(7)
    size, precision, wrong_share = 400, 0.95, 0.06
    certified = 0
    trials = 300
    for _ in range(trials):
        truth = [rng.random() >= wrong_share for _ in range(size)]
        outcomes: list[bool | None] = [None] * size
        found = certify(outcomes, precision, 0.99)
        while found.more_needed:
            start = outcomes.index(None)
            for k in range(start, found.wanted):
                outcomes[k] = truth[k]
            found = certify(outcomes, precision, 0.99)
        rest = [t for t, o in zip(truth, outcomes, strict=True) if o is None]
        if found.certified and sum(rest) / len(rest) < precision:
            certified += 1
    assert certified / trials <= 0.05


def test_looking_after_every_single_answer_and_answering_past_the_look_keeps_the_error_below_five_percent() -> None:
    # Each level's bound is on the longest prefix with at most j wrong, however far the answers run past its look:
    # looking after every answer, whatever was asked, must still certify a set below P at most 5% of the time.
    rng = random.Random(11)
    size, precision, wrong_share = 200, 0.95, 0.06
    false_certificates, trials = 0, 150  # 4% here; with 400 trials at sizes 200-300 and P 0.9-0.98, 2.5-4%
    for _ in range(trials):
        truth = [rng.random() >= wrong_share for _ in range(size)]
        outcomes: list[bool | None] = [None] * size
        for k in range(size - 1):
            outcomes[k] = truth[k]
            found = certify(outcomes, precision, 0.99)
            if found.certified:
                rest = truth[k + 1 :]
                false_certificates += sum(rest) / len(rest) < precision
                break
    assert false_certificates / trials <= 0.05


def test_more_agreeing_check_answers_than_the_look_asked_for_never_undo_a_certificate() -> None:
    # The newcomer's case: 202 check answers, all agreeing, asked at 0.98; a later accept at 0.95 on the same set
    # (249 images) must certify, not say the set is too few; 80 of them already did.
    assert certify([True] * 202 + [None] * 47, 0.95, 0.966).certified
    assert certify([True] * 80 + [None] * 169, 0.95, 0.966).certified
    # The set shrank by two after the checks were asked: the 49 left fall just short of 0.98 (one wrong label among
    # them cannot be ruled out), and more checks, not "too few", are the way on.
    short = certify([True] * 202 + [None] * 49, 0.98, 0.966)
    assert not short.certified and short.bound is not None and 0.979 < short.bound < 0.98
    assert short.more_needed is not None and 0 < short.more_needed < 49
    answered = certify([True] * short.wanted + [None] * (251 - short.wanted), 0.98, 0.966)
    assert answered.certified and answered.taken == 251 - short.wanted


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, auto_upgrade=True)
    yield database
    database.dispose()


def checked_library(db: Database, sure: int, unsure: int) -> None:
    """Version v1 (active, no held-out answers): ``sure`` images at calibrated confidence 0.999 and ``unsure`` at 0.3."""
    rows = {f"s{n:04d}": ("daisy" if n % 3 else "roses", 0.999) for n in range(sure)}
    rows |= {f"u{n:04d}": ("daisy", 0.3) for n in range(unsure)}
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, CLASSES, {}, b"wv1"))
        versions.activate_version(session, "v1")
        records = [
            ResultRecord(
                f"/library/{h}.jpg", "1:1", ResultStatus.OK, label, p, [{"label": label, "confidence": p}], content_hash=h
            )
            for h, (label, p) in rows.items()
        ]
        write_results(session, records, "v1", None)


def answer_checks(db: Database, reviewer: str, count: int, wrong: int = 0) -> list[str]:
    """Lease ``count`` images (check items come first), answer the check items among them (the first ``wrong``
    otherwise than suggested) and return their content hashes."""
    items = next_batch(db, reviewer, count, 600).items
    checks = [i for i in items if i.reason == CHECK]
    records = []
    for n, item in enumerate(checks):
        label = item.suggested_label or "daisy"
        if n < wrong:
            label = "roses" if label == "daisy" else "daisy"
        records.append(CorrectionRecord(item.image_path, label, item.image_path.rsplit("/", 1)[1].removesuffix(".jpg")))
    with db.transaction() as session:
        save_corrections(session, records, reviewer=reviewer)
    return [r.content_hash or "" for r in records]


def test_accept_asks_for_check_answers_from_above_the_threshold_and_takes_the_set_they_certify(db: Database) -> None:
    checked_library(db, sure=400, unsure=40)
    report = accept(db, 0.95)
    check = report.check
    assert report.rule.threshold is None and report.total == 0, "no held-out answers: the held-out rule cannot certify"
    assert check is not None and check.threshold == 0.999 and check.size == 400, "the unsure images are not in the set"
    assert not check.certified and check.more_needed == level_size(400, 0.95, 0)
    with db.transaction() as session:
        request = check_request(session, "v1")
        assert request is not None and request.wanted == check.wanted
    answered = answer_checks(db, "ann", 1000)
    assert len(answered) == check.more_needed and all(h.startswith("s") for h in answered), "only from above λ"
    assert answered == sorted(answered), "in check order (the content hash)"
    with db.transaction() as session:
        assert all(session.scalars(select(Correction.is_check).where(Correction.content_hash.in_(answered))))
    assert verified_labels(db, TrainingOptions()) == [], "check answers never train (nor calibrate)"
    with db.transaction() as session:
        assert not quick_refresh_due(session, 20), "nor do they call for a quick refresh"
    done = accept(db, 0.95)
    assert done.check is not None and done.check.certified and done.check.bound is not None and done.check.bound >= 0.95
    assert done.total == 400 - len(answered) and done.threshold == 0.999
    assert sum(n for n, _ in done.checked.values()) == len(answered)
    with db.transaction() as session:
        taken = accepted_labels(session)
        assert not set(taken) & set(answered), "a person's answer wins: checked images stay verified"
        assert not any(h.startswith("u") for h in taken)
        assert check_request(session, "v1") is None, "certified: nothing more asked"
    assert not [i for i in next_batch(db, "bob", 50, 600).items if i.reason == CHECK]


def test_accept_takes_nothing_while_check_answers_disagree_and_says_how_many_more(db: Database) -> None:
    checked_library(db, sure=400, unsure=40)
    accept(db, 0.95)
    first = answer_checks(db, "ann", level_size(400, 0.95, 0) or 0, wrong=1)
    report = accept(db, 0.95)
    check = report.check
    assert check is not None and not check.certified and report.total == 0 and check.wrong == 1
    next_level = level_size(400, 0.95, 1)
    assert next_level is not None and check.more_needed == next_level - len(first)
    shown = CliRunner().invoke(cli, ["accept", "--precision", "0.95", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert f"at least {check.more_needed} more check answers" in shown.stderr
    assert f"then accept takes the {400 - next_level} suggestions not checked" in shown.stderr
    assert "reason check" in shown.stderr
    more = answer_checks(db, "bob", check.more_needed)
    assert len(more) == check.more_needed, "the queue asks for exactly what the next level needs"
    done = accept(db, 0.95)
    assert done.check is not None and done.check.certified and done.total == 400 - next_level
    accept(db, 0.95)  # a second run keeps what it accepted
    with db.transaction() as session:
        assert len(accepted_labels(session)) == 400 - next_level


def test_the_api_shows_the_check_sample_and_the_queue_serves_check_items(database_url: str, api: ClientFactory) -> None:  # noqa: F811
    database = open_database(database_url, auto_upgrade=True)
    checked_library(database, sure=400, unsure=40)
    database.dispose()
    client = api()
    asked = client.post("/api/accept", json={"precision": 0.95})
    assert asked.status_code == 200, asked.text
    check = asked.json()["check"]
    assert check["certified"] is False and check["size"] == 400 and check["more_needed"] == level_size(400, 0.95, 0)
    served = client.post("/api/review/next", json={"reviewer": "bob", "count": 10})
    assert served.status_code == 200, served.text
    assert {i["reason"] for i in served.json()["items"]} == {CHECK}


def test_a_set_too_small_for_a_check_sample_says_so_not_that_answers_disagree(db: Database) -> None:
    # The loop's 100-image library left 18 sure suggestions: no check answer yet, so none can disagree.
    checked_library(db, sure=18, unsure=82)
    report = accept(db, 0.98, dry_run=True)
    assert report.check is not None and report.check.more_needed is None and report.check.checked == 0
    shown = CliRunner().invoke(cli, ["accept", "--precision", "0.98", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "too few for a check sample" in shown.stderr and "disagree" not in shown.stderr
    assert f"about {least_checks(0.98)} checks" in shown.stderr and "label more photos" in shown.stderr


def test_check_items_come_before_the_images_a_reviewer_already_holds(db: Database) -> None:
    checked_library(db, sure=400, unsure=40)
    held = next_batch(db, "ann", 5, 600).items  # leased before accept asked for checks
    assert held and all(i.reason != CHECK for i in held)
    accept(db, 0.95)
    again = next_batch(db, "ann", 10, 600).items
    reasons = [i.reason for i in again]
    assert reasons == sorted(reasons, key=lambda r: r != CHECK) and CHECK in reasons, "check items lead the batch"
    assert {i.result_id for i in held} <= {i.result_id for i in again}, "the held ones still come back"


def test_classes_counts_check_answers_apart(db: Database) -> None:
    checked_library(db, sure=400, unsure=40)
    accept(db, 0.95)
    answered = answer_checks(db, "ann", 10)
    shown = CliRunner().invoke(cli, ["classes", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    rows = {row["name"]: row for row in json.loads(shown.stdout)}
    assert sum(rows[c]["check_answers"] for c in CLASSES) == len(answered) == sum(rows[c]["answers"] for c in CLASSES)
    table = CliRunner().invoke(cli, ["classes"])
    assert "answers counts them all: the audit and check answers are among them" in table.stderr
