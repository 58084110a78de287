"""Review mode in Chromium: 20 images by keyboard alone (accept, a top-k digit, a typed class, a skip,
undo), in a modal dialog that keeps focus inside and closes with Esc; on a phone the photo fills the
width and every control can be tapped. The corrections land in the API and the CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width, mobilabel

pytestmark = pytest.mark.browser

TOUCH_PX = 44  # the smallest comfortable touch target


def test_review_by_keyboard_in_a_modal_dialog(serve: ServerFactory, page: Page, size: str, tmp_path: Path) -> None:
    server = serve()
    flowers = next(v for v in server.get("/api/models") if len(v["classes"]) == 5)["id"]
    queue = server.get("/api/results", version=flowers, sort="confidence", limit=100)["items"]
    page.goto(server.base + f"/ui/?view=gallery&version={flowers}&sort=confidence")
    expect(page.locator(".grid .tile")).to_have_count(len(queue))

    page.keyboard.press("r")
    dialog = page.locator("dialog#review")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.open && d.matches(':modal')")
    expect(page.locator("#review-image")).to_be_visible()
    assert axe_violations(page) == []
    if size == "phone":
        photo = page.locator("#review-image").bounding_box()
        assert photo is not None and photo["width"] >= 390 - 2 * 8 - 2  # the full width, less the dialog's padding
        buttons = dialog.locator("button:visible")
        heights = buttons.evaluate_all("bs => bs.map(b => b.getBoundingClientRect().height)")
        assert heights and min(heights) >= TOUCH_PX, heights
        assert fits_width(page)

    # Focus stays in the dialog: Tab and Shift-Tab go round its controls, never to the page behind.
    for key in ["Tab"] * 25 + ["Shift+Tab"] * 25:
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement.closest('dialog#review') !== null"), key
    dialog.focus()

    expected: dict[str, str] = {}
    position = 0
    for n in range(21):
        item = queue[position]
        expect(page.locator("#review-title")).to_have_text(f"{position + 1} / {len(queue)}")
        if n == 7:
            page.keyboard.press(" ")  # skip: no verified label
        elif n % 3 == 0:
            page.keyboard.press("Enter" if n % 2 else "a")
            expected[item["image_path"]] = item["label"]
        elif n % 3 == 1:
            page.keyboard.press("2")
            expected[item["image_path"]] = item["top_k"][1]["label"]
        else:
            page.keyboard.type("sunfl")
            expect(page.locator(".class-list li")).to_have_text(["sunflowers"])
            page.keyboard.press("Enter")
            expected[item["image_path"]] = "sunflowers"
        position += 1
    assert len(expected) == 20
    expect(page.locator("#review-title")).to_have_text(f"{position + 1} / {len(queue)}")
    expect(page.locator("#review-progress")).to_contain_text("reviewed 20 / remaining 10")
    page.screenshot(path=str(tmp_path / f"review-{size}.png"))  # docs/review-page.png is the desktop one
    page.keyboard.press("u")  # the last decision goes
    expect(page.locator("#review-title")).to_have_text(f"{position} / {len(queue)}")
    expect(page.locator("#review-progress")).to_contain_text("reviewed 19 / remaining 11")
    del expected[queue[position - 1]["image_path"]]

    # Esc in the class filter clears it; the next Esc closes review mode, focus back where it was.
    page.keyboard.press("/")
    page.keyboard.type("ros")
    expect(page.locator(".class-list li")).to_have_text(["roses"])
    page.keyboard.press("Escape")
    expect(dialog).to_be_visible()
    expect(page.locator("#class-filter")).to_have_value("")
    page.keyboard.press("Escape")
    expect(page.locator("dialog#review")).to_have_count(0)
    if size == "phone":
        # By touch: the review button opens it, a tap on a top-k label decides, the close button closes.
        page.locator("#start-review").tap()
        expect(dialog).to_be_visible()
        expect(page.locator("#review-title")).to_have_text(f"8 / {len(queue)}")  # the first not reviewed: the one skipped
        dialog.locator(".topk button").nth(2).tap()
        expect(page.locator("#review-title")).to_have_text(f"9 / {len(queue)}")
        expected[queue[7]["image_path"]] = queue[7]["top_k"][2]["label"]
        page.locator("#review-close").tap()
        expect(page.locator("dialog#review")).to_have_count(0)

    stored = {c["image_path"]: c["label"] for c in server.get("/api/corrections")}
    assert stored == expected
    listed = {row[0]: row[1] for row in csv.reader(io.StringIO(mobilabel(server.env, "correct", "--list", "--format", "csv")))}
    assert {path: listed[path] for path in expected} == expected
    assert (queue[7]["image_path"] in listed) == (size == "phone")  # skipped by keyboard, then tapped on the phone
