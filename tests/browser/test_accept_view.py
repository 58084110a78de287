"""The models view's calibration and accepting part in Chromium: the active version's reliability diagrams
with its ECE before and after, and "Accept at precision" (a dry run, a question, then the labels accepted)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width

pytestmark = pytest.mark.browser


def test_calibration_is_shown_and_accept_asks_then_accepts(serve: ServerFactory, page: Page) -> None:
    server = serve()
    active = next(v for v in server.get("/api/models") if v["active"])
    calibration = server.get(f"/api/models/{active['id']}/calibration")
    # Eight answers agreeing with the version, made after it was trained: held out, enough for precision 0.5.
    items = server.get("/api/results", version=active["id"], limit=8)["items"]
    for result in items:
        server.put("/api/corrections", {"result_id": result["id"], "label": result["label"]})

    page.goto(server.base + "/ui/?view=models")
    expect(page.locator("#calibration")).to_contain_text(
        f"expected calibration error {calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after"
    )
    expect(page.locator("svg.reliability")).to_have_count(2)
    assert axe_violations(page) == []
    assert fits_width(page)

    questions: list[str] = []

    def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    form = page.locator("#accept-form")
    form.get_by_label("precision").fill("0.5")
    form.get_by_role("button", name="Accept at precision").click()
    expect(page.locator("#accept-report p")).to_contain_text("Accepted ")
    assert questions and questions[0].startswith("Accept ")
    accepted = server.get("/api/results", review_state="accepted", limit=1000)["items"]
    assert accepted and all(r["accepted_by_version"] == active["id"] for r in accepted)
    assert not {r["id"] for r in accepted} & {r["id"] for r in items}, "answered images are never accepted"
    expect(page.locator("#accept-report tbody tr")).to_have_count(len(active["classes"]))
    assert axe_violations(page) == []
