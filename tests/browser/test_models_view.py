"""The models view in Chromium: compare two versions and open a flip's images, a version against the
verified labels and a cell's images, and a training run started from the page (its defaults the
server's) followed in place to the end with its progress in words."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from mobilabel.training.data import DEFAULT_VAL_FRACTION
from mobilabel.training.options import TrainingOptions
from tests.browser.conftest import ServerFactory, axe_violations, fits_width

pytestmark = pytest.mark.browser


def progress_text(progress: dict[str, Any]) -> str:
    """What the page should say for a run's progress (the test's own spelling of it)."""
    phase = {"train": "training", "val": "validating"}[progress["phase"]]
    share = min(100, round(100 * progress["done"] / progress["total"])) if progress["total"] else 0
    return f"epoch {progress['epoch']} of {progress['epochs']} · {phase} {share}% · accuracy {100 * progress['accuracy']:.1f}% · loss {progress['loss']:.3f}"


def test_models_view_compares_confuses_and_trains(serve: ServerFactory, page: Page) -> None:
    server = serve()
    versions = server.get("/api/models")
    flowers = next(v for v in versions if len(v["classes"]) == 5)["id"]
    imagenet = next(v for v in versions if v["id"] != flowers)["id"]
    for result, label in zip(server.get("/api/results", version=flowers, limit=8)["items"], ["daisy", "roses"] * 4, strict=True):
        server.put("/api/corrections", {"result_id": result["id"], "label": label})

    # Compare two versions; a flip cell opens the gallery of exactly those images.
    page.goto(server.base + "/ui/?view=models")
    expect(page.locator("table.versions tbody tr")).to_have_count(len(versions))
    page.locator("select[name=compare_a]").select_option(imagenet)  # by name: a label "version a…" also matches it
    page.locator("select[name=compare_b]").select_option(flowers)
    page.get_by_role("button", name="Compare").click()
    comparison = server.get("/api/models/compare", a=imagenet, b=flowers)
    expect(page.locator("#comparison p")).to_have_text(
        f"{comparison['images']} images labelled by both, {comparison['changed']} changed label"
    )
    assert axe_violations(page) == []
    assert fits_width(page)
    flip = comparison["flips"][0]
    page.locator("#comparison table.matrix a", has_text=str(flip["images"])).first.click()
    page.wait_for_url("**view=gallery*")
    cell_flip = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    behind = next(f for f in comparison["flips"] if (f["label_a"], f["label_b"]) == (cell_flip["label_a"], cell_flip["label_b"]))
    expect(page.locator(".grid .tile")).to_have_count(behind["images"])
    assert set(page.locator(".tile .label").all_inner_texts()) == {behind["label_b"]}

    # The flowers version against the verified labels; a cell opens its images.
    page.goto(server.base + f"/ui/?view=models&confusion={flowers}")
    confusion = server.get(f"/api/models/{flowers}/confusion")
    assert confusion["images"] == 8
    expect(page.locator("#confusion p")).to_have_text(f"{confusion['correct']} of {confusion['images']} verified images right")
    assert axe_violations(page) == []
    page.locator("#confusion table.matrix a").first.click()
    page.wait_for_url("**view=gallery*confusion=*")
    cell = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    (counted,) = [
        c["images"] for c in confusion["cells"] if (c["verified"], c["predicted"]) == (cell["verified"], cell["predicted"])
    ]
    expect(page.locator(".grid .tile")).to_have_count(counted)

    # Train from the page: its defaults are the server's; the run's row is followed in place to the end.
    page.goto(server.base + "/ui/?view=models")
    form = page.locator("#train-form")
    before = {r["id"] for r in server.get("/api/training-runs")}  # the prepared database's own (local) run
    defaults = TrainingOptions()
    expect(form.get_by_label("epochs")).to_have_value(str(defaults.epochs))
    expect(form.get_by_label("validation share")).to_have_attribute("placeholder", str(DEFAULT_VAL_FRACTION))
    assert form.get_by_label("with verified labels").is_checked() == defaults.include_corrections
    form.get_by_label("data folder").fill(str(server.data))
    form.get_by_label("epochs").fill("1")
    form.get_by_label("validation share").fill("0.34")
    form.get_by_label("promote even if not better").check()
    form.get_by_role("button", name="Train").click()
    expect(page.locator("#runs tr[data-run]")).to_have_count(len(before) + 1, timeout=60_000)  # the server imports torch first
    (run_id,) = {r["id"] for r in server.get("/api/training-runs")} - before
    row = page.locator(f'#runs tr[data-run="{run_id}"]')
    row.evaluate("row => row.dataset.seen = 'first'")
    expect(row.locator(".run-status")).to_have_text(re.compile("completed|failed"), timeout=240_000)
    (run,) = [r for r in server.get("/api/training-runs") if r["id"] == run_id]
    assert run["status"] == "completed", run["error"]
    assert row.get_attribute("data-seen") == "first"  # the same row, updated
    expect(row.locator(".progress-text")).to_have_text(progress_text(run["progress"]))
    expect(row.locator(".run-version a")).to_have_text(run["version_id"][:12])
    assert run["options"]["include_corrections"] is True and run["version_id"] in {v["id"] for v in server.get("/api/models")}
    assert axe_violations(page) == []
