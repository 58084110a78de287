"""The pages a browser loads work under the server's Content-Security-Policy: /docs (Swagger UI,
whose inline start-up script is allowed by its hash) renders every operation, and the review page
loads, each without one policy violation. Debian's Chromium through Playwright, as the review page's test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, sync_playwright

from tests.browser.test_review_page import CHROMIUM, free_port, wait_ready

pytestmark = pytest.mark.browser
TOKEN = "browser-test-token"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MOBILABEL_API_TOKEN", TOKEN)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mobilabel", "serve", "--port", str(port)], stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(30)


def test_docs_and_page_run_under_the_policy(server: str) -> None:
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
        page = context.new_page()
        page.on("console", watch)
        page.goto(server + "/docs")
        page.locator(".opblock").first.wait_for()
        assert page.locator(".opblock").count() > 20, "Swagger UI rendered the operations"
        assert page.get_by_text("/api/jobs", exact=True).count() > 0
        page.goto(server + "/ui/")
        page.wait_for_load_state("networkidle")
        browser.close()
    assert violations == []
