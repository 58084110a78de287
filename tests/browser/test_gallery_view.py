"""The gallery in Chromium: filter and sort into a shareable URL, a refused filter's one-line reason,
a thumbnail that cannot load shown as a placeholder with the server's reason, and bulk labelling of
a shift-click range, undone."""

from __future__ import annotations

import shutil

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width, mobilabel

pytestmark = pytest.mark.browser


def test_gallery_filters_bulk_labels_and_explains_missing_pictures(serve: ServerFactory, page: Page) -> None:
    server = serve()
    flowers = next(v for v in server.get("/api/models") if len(v["classes"]) == 5)["id"]
    queue = server.get("/api/results", version=flowers, sort="confidence", limit=100)["items"]

    # Filter by version, sort by confidence ascending (the review queue); the view is its URL.
    page.goto(server.base + "/ui/?view=gallery")
    page.get_by_label("version").select_option(flowers)
    page.get_by_label("sort").select_option("confidence")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**/ui/?view=gallery*version={flowers}*")
    assert "sort=confidence" in page.url
    tiles = page.locator(".grid .tile")
    expect(tiles).to_have_count(len(queue))
    assert [int(t) for t in tiles.evaluate_all("ts => ts.map(t => t.dataset.id)")] == [r["id"] for r in queue]
    shown = [float(c.rstrip("%")) for c in page.locator(".tile .confidence").all_inner_texts()]
    assert shown == sorted(shown)
    expect(page.locator(".tile img").first).to_be_visible()
    assert axe_violations(page) == []
    assert fits_width(page)

    # Bulk: click one tile, shift-click another, assign one label to the range; undo takes it back.
    page.locator(f'.tile[data-id="{queue[24]["id"]}"] img').click()
    page.locator(f'.tile[data-id="{queue[27]["id"]}"] img').click(modifiers=["Shift"])
    expect(page.locator(".tile.selected")).to_have_count(4)
    expect(page.locator(".tile .pick:checked")).to_have_count(4)
    page.get_by_label("label for the selected images").fill("daisy")
    page.get_by_role("button", name="Assign label").click()
    expect(page.locator("#review-progress")).to_contain_text("reviewed 4 / remaining 26")
    expect(page.locator(".tile.verified .mark")).to_have_text(["✓ daisy"] * 4)
    assert {c["image_path"]: c["label"] for c in server.get("/api/corrections")} == {
        r["image_path"]: "daisy" for r in queue[24:28]
    }
    page.get_by_role("button", name="Undo (u)").click()
    expect(page.locator("#review-progress")).to_contain_text("reviewed 0 / remaining 30")
    assert server.get("/api/corrections") == []

    # A refused filter: the server's one line by the form, not JSON, and the form is still there to fix it.
    page.goto(server.base + "/ui/?view=gallery&min_confidence=2")
    error = page.locator("#gallery-error")
    expect(error).to_have_text("min_confidence: Input should be less than or equal to 1")
    expect(page.get_by_role("button", name="Apply")).to_be_visible()
    page.goto(server.base + "/ui/?view=gallery&label=daysy")
    detail = httpx_detail(server.base + "/api/results?label=daysy")
    expect(error).to_have_text(detail)
    assert "{" not in detail and "daisy" in detail  # names what exists

    # Pictures that cannot be had: a file gone (404), a file that is no image any more (422).
    for photo in sorted(server.data.glob("tulips/*.jpg"))[:2]:
        shutil.copy(photo, server.extra / photo.name)
    mobilabel(server.env, "label", str(server.extra))
    (job,) = [j for j in server.get("/api/jobs") if j["root"] == str(server.extra)]
    gone, broken = sorted(server.extra.glob("*.jpg"))
    gone.unlink()
    broken.write_bytes(b"not an image any more")
    page.goto(server.base + f"/ui/?view=gallery&job={job['id']}")
    placeholders = page.locator(".tile .no-image")
    expect(placeholders).to_have_count(2)
    expect(placeholders.filter(has_text="the image file of this result is gone")).to_have_count(1)
    expect(placeholders.filter(has_text="cannot read image")).to_have_count(1)
    assert axe_violations(page) == []


def httpx_detail(url: str) -> str:
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 422
    detail: str = answer.json()["detail"]
    return detail
