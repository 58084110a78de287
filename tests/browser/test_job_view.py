"""One job's view in Chromium: its progress, label distribution (each bar opens those images) and
failures with their reasons; a job that does not exist says so instead of loading forever."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width, mobilabel

pytestmark = pytest.mark.browser


def test_job_view_shows_labels_and_failures(serve: ServerFactory, page: Page) -> None:
    server = serve()
    for photo in sorted(server.data.glob("daisy/*.jpg"))[:3]:
        shutil.copy(photo, server.extra / photo.name)
    (server.extra / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    mobilabel(server.env, "label", str(server.extra))
    (job,) = [j for j in server.get("/api/jobs") if j["root"] == str(server.extra)]
    labels = server.get(f"/api/jobs/{job['id']}/labels")

    page.goto(server.base + f"/ui/?view=job&id={job['id']}")
    expect(page.locator("h1")).to_have_text(f"Job {job['id']}: completed")
    expect(page.locator(".progress-text").first).to_have_text("4 / 4")
    expect(page.locator("p.counts")).to_have_text("3 labelled, 1 failed, 0 unchanged")
    ok = [row for row in labels if row["status"] == "ok"]
    expect(page.locator(".chart-row .chart-label")).to_have_text([row["label"] for row in ok])
    expect(page.locator(".chart-row .chart-count")).to_have_text([str(row["images"]) for row in ok])
    expect(page.locator("ul.failures li")).to_have_count(1)
    expect(page.locator("ul.failures li")).to_contain_text("broken.jpg")
    failure = server.get("/api/results", job=job["id"], status="failed")["items"][0]
    expect(page.locator("ul.failures li")).to_contain_text(failure["error"])
    assert axe_violations(page) == []
    assert fits_width(page)

    page.locator(".chart-row").first.click()
    page.wait_for_url("**view=gallery*label=*")
    expect(page.locator(".grid .tile")).to_have_count(ok[0]["images"])

    # Labelled again, nothing changed: the bar is full and the counts say why (the broken file is retried).
    mobilabel(server.env, "label", str(server.extra))
    again = max(j["id"] for j in server.get("/api/jobs") if j["root"] == str(server.extra))
    page.goto(server.base + f"/ui/?view=job&id={again}")
    expect(page.locator(".progress-text").first).to_have_text("4 / 4")
    expect(page.locator("p.counts")).to_have_text("0 labelled, 1 failed, 3 unchanged")

    page.goto(server.base + "/ui/?view=job&id=99999")
    expect(page.locator("h1")).to_have_text("Cannot show this view")
    expect(page.get_by_role("alert")).to_contain_text("99999")
    assert axe_violations(page) == []
