"""The review page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
log in with the token, filter and sort the gallery, review 20 images by keyboard, bulk-assign a
selection, undo; compare two versions and open a flip; train with the corrections. SQLite only.
Screenshots go to the test's tmp folder."""

from __future__ import annotations

import csv
import io
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import FLOWERS

pytestmark = pytest.mark.browser

TOKEN = "browser-test-token"
CHROMIUM = "/usr/bin/chromium"
PER_CLASS = 6  # 5 classes x 6 photos: small enough to train on in seconds


def mobilabel(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mobilabel", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A copy (not links: the server resolves paths against its allowed roots) of a few flowers per class."""
    root = tmp_path / "data"
    for folder in sorted((FLOWERS / "train").iterdir()):
        (root / folder.name).mkdir(parents=True)
        for photo in sorted(folder.glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(photo, root / folder.name / photo.name)
    return root


@pytest.fixture
def server(data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`mobilabel serve` over the flowers labelled twice: by ImageNet and by a 1-epoch flowers model."""
    mobilabel("label", str(data))
    mobilabel("train", str(data), "--epochs", "1", "--val-fraction", "0.34", "--force")
    mobilabel("label", str(data))
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", str(data))
    monkeypatch.setenv("MOBILABEL_API_TOKEN", TOKEN)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mobilabel", "serve", "--port", str(port)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(30)


def wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    """Poll /readyz until the server answers 200 (it answers once uvicorn has started)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for _ in range(300):
            try:
                if client.get("/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:  # waits for the server to exit, at most 0.2 s: a server that died is reported at once
                process.wait(0.2)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"mobilabel serve exited: {process.stderr.read() if process.stderr else ''}")
    raise AssertionError("mobilabel serve did not become ready")


def get(base: str, path: str, **params: Any) -> Any:
    answer = httpx.get(base + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def review_counter(page: Page) -> str:
    return page.locator("#review h2").inner_text()


def test_review_page_end_to_end(server: str, data: Path, tmp_path: Path) -> None:
    versions = get(server, "/api/models")
    flowers_version = next(v for v in versions if "daisy" in v["classes"] and len(v["classes"]) == 5)["id"]
    imagenet_version = next(v for v in versions if v["id"] != flowers_version)["id"]
    queue = get(server, "/api/results", version=flowers_version, sort="confidence", limit=100)["items"]
    assert len(queue) == 5 * PER_CLASS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1366, "height": 850})
        page.on("dialog", lambda dialog: dialog.accept())

        # Security through the page: no data without the token; the login form gets the session cookie.
        page.goto(server + "/")
        page.fill("#login input[name=token]", "wrong")
        page.click("#login button")
        expect(page.locator("#status")).to_contain_text("wrong or missing token")
        page.fill("#login input[name=token]", TOKEN)
        page.click("#login button")
        expect(page.locator("h1")).to_have_text("Jobs")
        expect(page.locator("table.jobs tr[data-job]")).to_have_count(2)

        # Another site (localhost is not 127.0.0.1) cannot make this browser change anything here:
        # the SameSite=Strict cookie stays home, and the API refuses cross-site changes anyway.
        active = [v["id"] for v in get(server, "/api/models") if v["active"]]
        other_site = browser.new_page()
        other_site.goto(server.replace("127.0.0.1", "localhost") + "/ui/")
        expect(other_site.locator("#login")).to_be_visible()  # no session there
        other_site.evaluate(
            "url => fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include'}).catch(() => null)", server + "/api/models/rollback"
        )
        other_site.close()
        assert [v["id"] for v in get(server, "/api/models") if v["active"]] == active
        assert page.request.get(server + "/api/results/999999/image").status == 404  # images only by a result's id

        # Gallery: filter by version, sort by confidence ascending (the review queue); the view is its URL.
        page.goto(server + "/ui/?view=gallery")
        page.select_option("#filters select[name=version]", flowers_version)
        page.select_option("#filters select[name=sort]", "confidence")
        page.click("#filters button[type=submit]")
        page.wait_for_url(f"**/ui/?view=gallery*version={flowers_version}*")
        assert "sort=confidence" in page.url
        tiles = page.locator(".grid .tile")
        expect(tiles).to_have_count(len(queue))
        assert [int(t) for t in tiles.evaluate_all("ts => ts.map(t => t.dataset.id)")] == [r["id"] for r in queue]
        shown = [float(c.rstrip("%")) for c in page.locator(".tile .confidence").all_inner_texts()]
        assert shown == sorted(shown)
        page.screenshot(path=str(tmp_path / "gallery.png"))

        # Review 20 images by keyboard: accept, a top-k digit, a typed class; one skipped; then undo one.
        page.keyboard.press("r")
        expect(page.locator("#review")).to_be_visible()
        expected: dict[str, str] = {}
        position = 0
        for n in range(21):
            item = queue[position]
            expect(page.locator("#review h2")).to_have_text(f"{position + 1} / {len(queue)}")
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
        expect(page.locator("#review h2")).to_have_text(f"{position + 1} / {len(queue)}")
        expect(page.locator("#review-progress")).to_contain_text("reviewed 20 / remaining 10")
        page.screenshot(path=str(tmp_path / "review.png"))  # docs/review-page.png is one of these
        page.keyboard.press("u")  # the last decision goes
        expect(page.locator("#review h2")).to_have_text(f"{position} / {len(queue)}")
        expect(page.locator("#review-progress")).to_contain_text("reviewed 19 / remaining 11")
        del expected[queue[position - 1]["image_path"]]
        page.keyboard.press("Escape")
        expect(page.locator("#review")).to_have_count(0)

        # Bulk: click one tile, shift-click another, assign one label to the range.
        page.locator(f'.tile[data-id="{queue[24]["id"]}"]').click()
        page.locator(f'.tile[data-id="{queue[27]["id"]}"]').click(modifiers=["Shift"])
        expect(page.locator(".tile.selected")).to_have_count(4)
        page.fill("#bulk-label", "daisy")
        page.click("#assign-selected")
        expect(page.locator("#review-progress")).to_contain_text("reviewed 23 / remaining 7")
        for item in queue[24:28]:
            expected[item["image_path"]] = "daisy"

        # The corrections, through the API and the CLI.
        stored = {c["image_path"]: c["label"] for c in get(server, "/api/corrections")}
        assert stored == expected
        listed = {row[0]: row[1] for row in csv.reader(io.StringIO(mobilabel("correct", "--list", "--format", "csv")))}
        assert {path: listed[path] for path in expected} == expected and queue[7]["image_path"] not in listed  # 7: skipped
        rows = csv.DictReader(io.StringIO(mobilabel("results", "--version", flowers_version, "--format", "csv", "--limit", "0")))
        assert {r["image_path"]: r["verified_label"] for r in rows if r["verified_label"]} == expected

        # Compare two versions; a flip cell opens the gallery of exactly those images.
        page.goto(server + "/ui/?view=models")
        page.select_option("#compare-form select[name=compare_a]", imagenet_version)
        page.select_option("#compare-form select[name=compare_b]", flowers_version)
        page.click("#compare-form button")
        comparison = get(server, "/api/models/compare", a=imagenet_version, b=flowers_version)
        expect(page.locator("#comparison p")).to_have_text(f"{comparison['images']} images labelled by both, {comparison['changed']} changed label")
        page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
        flip = comparison["flips"][0]
        cell = page.locator("#comparison table.matrix a", has_text=str(flip["images"])).first
        cell.click()
        page.wait_for_url("**view=gallery*")
        cell_flip = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        behind = next(f for f in comparison["flips"] if (f["label_a"], f["label_b"]) == (cell_flip["label_a"], cell_flip["label_b"]))
        expect(page.locator(".grid .tile")).to_have_count(behind["images"])
        assert set(page.locator(".tile .label").all_inner_texts()) == {behind["label_b"]}

        # The flowers version against the verified labels; a cell opens its images.
        page.goto(server + f"/ui/?view=models&confusion={flowers_version}")
        confusion = get(server, f"/api/models/{flowers_version}/confusion")
        assert confusion["images"] == len(expected)
        expect(page.locator("#confusion p")).to_have_text(f"{confusion['correct']} of {confusion['images']} verified images right")
        page.locator("#confusion table.matrix a").first.click()
        page.wait_for_url("**view=gallery*confusion=*")
        cell = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        (counted,) = [c["images"] for c in confusion["cells"] if (c["verified"], c["predicted"]) == (cell["verified"], cell["predicted"])]
        expect(page.locator(".grid .tile")).to_have_count(counted)
        assert set(page.locator(".tile .label").all_inner_texts()) == {cell["predicted"]}

        # Train with the corrections, from the page, and follow it to the end.
        page.goto(server + "/ui/?view=models")
        page.fill("#train-form input[name=data_dir]", str(data))
        page.fill("#train-form input[name=epochs]", "1")
        page.fill("#train-form input[name=val_fraction]", "0.34")
        page.check("#train-form input[name=force]")
        page.click("#train-form button")
        expect(page.locator("#runs tr[data-run]")).to_have_count(1, timeout=60_000)  # the server imports torch first
        expect(page.locator("#runs tr[data-run] .run-status")).to_have_text(re.compile("completed|failed"), timeout=240_000)
        (run,) = get(server, "/api/training-runs")
        assert run["status"] == "completed", run["error"]
        assert run["options"]["include_corrections"] is True and run["version_id"] in {v["id"] for v in get(server, "/api/models")}
        browser.close()
