"""The labelling loop's page in Chromium: the review queue leased from the server, answered with
other (0), skip (?) and a class added from the review panel, with the queue's size and the accuracy
estimate on show; the photo at full resolution; bulk accept's question before it stores more than a
handful (Cancel stores none, OK stores them all); ImageNet's labels say they are not the user's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width

pytestmark = pytest.mark.browser

LOW_CONFIDENCE, LOW_MARGIN = 0.5, 0.1  # lib/doubt.js: what the model itself doubts


def doubted(result: dict[str, object]) -> bool:
    top = result["top_k"] or []
    assert isinstance(top, list) and isinstance(result["confidence"], float)
    return result["confidence"] < LOW_CONFIDENCE or (len(top) > 1 and top[0]["confidence"] - top[1]["confidence"] < LOW_MARGIN)


def test_review_queue_other_skip_new_class_and_bulk_question(serve: ServerFactory, page: Page, size: str, tmp_path: Path) -> None:
    server = serve()
    images = len(server.get("/api/results", limit=1000)["items"])
    page.goto(server.base + "/ui/?view=queue")
    page.locator("#reviewer").fill("ana")  # asked once, kept in the browser
    page.locator("#reviewer").press("Enter")

    dialog = page.locator("dialog#review")
    expect(dialog).to_be_visible()
    expect(page.locator("#queue-size")).to_have_text(f"queue: 0 of 20 answered · {images - 20} more to review after these")
    expect(page.locator("#queue-reason")).to_contain_text("asked because:")
    expect(page.locator("#estimate")).to_contain_text("estimated accuracy on the unreviewed rest")
    assert axe_violations(page) == []
    if size == "phone":
        assert fits_width(page)

    page.keyboard.press("0")  # other: none of my classes
    expect(page.locator("#review-title")).to_have_text("2 / 20+")
    page.keyboard.press("?")  # skip: not sure
    expect(page.locator("#review-title")).to_have_text("3 / 20+")
    page.keyboard.type("orchid")  # no such class: the panel offers to add it
    expect(page.locator(".class-list li")).to_have_count(0)
    expect(page.locator("#add-class")).to_have_text("+ add class “orchid”")
    page.keyboard.press("Enter")
    expect(page.locator("#review-title")).to_have_text("4 / 20+")
    expect(page.locator("#queue-size")).to_contain_text("queue: 3 of 20 answered")
    page.keyboard.type("orchid")  # now a class like any other
    expect(page.locator(".class-list li")).to_have_text(["orchid"])
    expect(page.locator("#add-class")).to_have_count(0)
    page.keyboard.press("Escape")
    page.screenshot(path=str(tmp_path / f"queue-{size}.png"))  # docs/review-page.png is the desktop one

    # The photo at full resolution: the original file, in a frame that scrolls; + again fits it back.
    page.keyboard.press("+")
    full = page.locator("#review-image.full")
    expect(full).to_have_attribute("src", re.compile(r"^/api/results/\d+/image$"))
    page.wait_for_function("() => document.querySelector('#review-image.full')?.naturalWidth > 0")
    page.keyboard.press("+")
    expect(page.locator("#review-image")).not_to_have_class("full")

    answers = server.get("/api/corrections")
    assert sorted(a["label"] for a in answers) == ["orchid", "other", "skip"]
    assert {a["reviewer"] for a in answers} == {"ana"}
    assert any(c["name"] == "orchid" and c["state"] == "active" for c in server.get("/api/classes"))
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator("#queue-size")).to_be_visible()  # the status stays on the page behind

    # Bulk accept over the unreviewed images asks first, saying how many of them the model doubts.
    page.goto(server.base + "/ui/?view=gallery&unreviewed=true&sort=confidence")
    unreviewed = [r for r in server.get("/api/results", limit=1000, unreviewed="true")["items"] if r["label"]]
    assert len(unreviewed) == images - 3
    expect(page.locator(".grid .tile")).to_have_count(len(unreviewed))
    page.locator("#select-all").click()
    page.evaluate("window.__confirm = window.confirm; window.confirm = (q) => { window.__asked = q; return false; }")  # Cancel
    page.locator("#accept-selected").click()
    expect(page.locator("#status")).to_have_text("nothing stored")
    assert len(server.get("/api/corrections")) == 3
    doubts = sum(doubted(r) for r in unreviewed)
    cue = f"doubts {doubts} of them" if doubts else "sure of each of them"
    assert f"of {len(unreviewed)} images" in page.evaluate("window.__asked") and cue in page.evaluate("window.__asked")
    page.evaluate("window.confirm = window.__confirm")  # the browser's own again: the page fixture answers OK
    with page.expect_event("dialog") as asked:
        page.locator("#accept-selected").click()
    assert cue in asked.value.message
    # One answer per image, each its own request: on a loaded 2-core machine 27 of them outlast the 5 s default.
    expect(page.locator("#status")).to_have_text(f"verified {len(unreviewed)} images", timeout=60_000)
    assert len(server.get("/api/corrections")) == images

    # A job labelled with the ImageNet weights says these are not your classes, and how to start.
    jobs = sorted(server.get("/api/jobs"), key=lambda j: j["id"])
    page.goto(server.base + f"/ui/?view=job&id={jobs[0]['id']}")
    expect(page.locator("#imagenet-notice")).to_contain_text("These are ImageNet's 1,000 classes, not yours.")
    page.goto(server.base + f"/ui/?view=job&id={jobs[-1]['id']}")
    expect(page.locator("h1")).to_contain_text(f"Job {jobs[-1]['id']}")
    expect(page.locator("#imagenet-notice")).to_have_count(0)
