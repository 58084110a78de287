"""One image's view in Chromium: photo, path, top-k, what each version said, and its verified label
set and removed from the page; an image that does not exist says so instead of loading forever."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width

pytestmark = pytest.mark.browser


def test_image_view_verifies_and_removes_a_label(serve: ServerFactory, page: Page) -> None:
    server = serve()
    flowers = next(v for v in server.get("/api/models") if len(v["classes"]) == 5)["id"]
    result = server.get("/api/results", version=flowers, sort="confidence", limit=1)["items"][0]
    versions = server.get(f"/api/results/{result['id']}/versions")

    page.goto(server.base + f"/ui/?view=image&id={result['id']}")
    expect(page.locator("h1")).to_contain_text(result["label"])
    expect(page.locator(".image-facts .path").first).to_have_text(result["image_path"])
    expect(page.locator("img.photo")).to_be_visible()
    expect(page.locator("ol.topk li")).to_have_count(len(result["top_k"]))
    expect(page.locator(".image-facts table tbody tr")).to_have_count(len(versions))
    expect(page.locator("#verified")).to_have_text("none")
    assert axe_violations(page) == []
    assert fits_width(page)

    page.get_by_label("Verified label").fill("tulips")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verified")).to_have_text("tulips")
    assert [(c["image_path"], c["label"]) for c in server.get("/api/corrections")] == [(result["image_path"], "tulips")]
    page.get_by_role("button", name="Remove").click()
    expect(page.locator("#verified")).to_have_text("none")
    assert server.get("/api/corrections") == []

    page.goto(server.base + "/ui/?view=image&id=99999")
    expect(page.locator("h1")).to_have_text("Cannot show this view")
    expect(page.get_by_role("alert")).to_contain_text("99999")
