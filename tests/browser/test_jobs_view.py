"""The jobs view in Chromium: log in with the token, start a job from the page and follow it to the
end with only its own row rewritten; without allowed roots, a banner naming the setting."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, axe_violations, fits_width

pytestmark = pytest.mark.browser

TOKEN = "browser-test-token"


def test_jobs_view_logs_in_starts_a_job_and_follows_it(serve: ServerFactory, page: Page) -> None:
    server = serve(token=TOKEN)
    jobs = server.get("/api/jobs")
    for photo in sorted(server.data.glob("roses/*.jpg"))[:3]:
        shutil.copy(photo, server.extra / photo.name)

    # No data without the token; the login form gets the session cookie.
    page.goto(server.base + "/")
    page.get_by_label("API token").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#status")).to_contain_text("wrong or missing token")
    assert axe_violations(page) == []
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("h1")).to_have_text("Jobs")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(len(jobs))
    expect(page.locator("#banner")).to_be_hidden()
    assert axe_violations(page) == []
    assert fits_width(page)

    # Another site (localhost is not 127.0.0.1) cannot make this browser change anything here: the
    # SameSite=Strict cookie stays home, and the API refuses cross-site changes anyway.
    active = [v["id"] for v in server.get("/api/models") if v["active"]]
    other_site = page.context.new_page()
    other_site.goto(server.base.replace("127.0.0.1", "localhost") + "/ui/")
    expect(other_site.locator("#login")).to_be_visible()  # no session there
    other_site.evaluate(
        "url => fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include'}).catch(() => null)",
        server.base + "/api/models/rollback",
    )
    other_site.close()
    assert [v["id"] for v in server.get("/api/models") if v["active"]] == active
    assert page.request.get(server.base + "/api/results/999999/image").status == 404  # images only by a result's id

    # A new job from the page: its row appears and is followed to the end in place; the rows of the
    # jobs that had ended are never rewritten (each row and its cells keep their nodes throughout).
    rows.evaluate_all(
        "rows => rows.forEach(row => { row.dataset.seen = 'before'; row.querySelectorAll('td').forEach(td => td.dataset.seen = 'before'); })"
    )
    page.get_by_label("Folder to label").fill(str(server.extra))
    page.get_by_role("button", name="Label folder").click()
    expect(rows).to_have_count(len(jobs) + 1)
    (job,) = [j for j in server.get("/api/jobs") if j["root"] == str(server.extra)]
    new_row = page.locator(f'table.jobs tr[data-job="{job["id"]}"]')
    new_row.evaluate("row => row.dataset.seen = 'new'")
    expect(new_row.locator(".status")).to_have_text("completed", timeout=120_000)  # the server loads the model first
    expect(new_row.locator(".progress-text")).to_have_text("3 / 3")
    assert new_row.get_attribute("data-seen") == "new"  # the same row, updated
    old = page.locator("table.jobs tr[data-seen=before]")
    expect(old).to_have_count(len(jobs))
    assert old.locator("td[data-seen=before]").count() == len(jobs) * 8
    # The review-queue link of the job opens its gallery, least sure first.
    new_row.get_by_role("link", name="review queue").click()
    page.wait_for_url(f"**view=gallery*job={job['id']}*")
    expect(page.locator(".grid .tile")).to_have_count(3)


def test_without_allowed_roots_a_banner_names_the_setting(serve: ServerFactory, page: Page) -> None:
    server = serve(roots=False)
    page.goto(server.base + "/ui/")
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("MOBILABEL_ALLOWED_ROOTS")
    expect(page.get_by_role("button", name="Label folder")).to_be_disabled()
    assert axe_violations(page) == []
    # The gallery says why there are no pictures instead of showing broken ones, and asks for none.
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.base + "/ui/?view=gallery")
    expect(page.locator(".grid .tile").first).to_be_visible()
    expect(page.locator(".tile .no-image").first).to_contain_text("MOBILABEL_ALLOWED_ROOTS")
    expect(banner).to_contain_text("MOBILABEL_ALLOWED_ROOTS")
    assert not [url for url in requested if "/thumbnail" in url]
    assert fits_width(page)
