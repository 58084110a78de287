"""The pages a browser loads work under the server's Content-Security-Policy: /docs (Swagger UI,
whose inline start-up script is allowed by its hash) renders every operation, and the review page
loads, each without one policy violation. Debian's Chromium through Playwright, as the review page's test."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage

from tests.browser.conftest import ServerFactory

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token-of-at-least-32-characters"


def test_docs_and_page_run_under_the_policy(serve: ServerFactory, browser: Browser) -> None:
    server = serve(token=TOKEN).base
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
    page = context.new_page()
    page.on("console", watch)
    page.goto(server + "/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 20, "Swagger UI rendered the operations"
    assert page.get_by_text("/api/jobs", exact=True).count() > 0
    page.goto(server + "/ui/")
    page.wait_for_load_state("networkidle")
    context.close()
    assert violations == []
