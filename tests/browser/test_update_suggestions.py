"""The gallery's "Update suggestions" button in Chromium: after answers, a click fits a quick head on the answers'
stored embeddings (POST /api/suggestions/refresh), the page says what it did, and after a reload its tiles show
the new version's labels; a second click on the same answers is refused by the gate, and the page says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory

pytestmark = pytest.mark.browser
ERROR = re.compile(r"\berror\b")  # lib/dom.js say(): the status line's class when it reports a failure


def test_update_suggestions_relabels_the_library_then_says_when_the_gate_refuses(serve: ServerFactory, page: Page) -> None:
    server = serve()
    # The ImageNet weights active: the first quick head is promoted whatever it scores (training.quick's gate),
    # and the library's embeddings are those its first `label` stored.
    imagenet = next(v for v in server.get("/api/models") if v["id"].startswith("imagenet-"))
    server.post(f"/api/models/{imagenet['id']}/activate", {})
    results = server.get("/api/results", limit=1000)["items"]
    for result in results:  # every photo answered with its class, its folder's name
        server.put("/api/corrections", {"result_id": result["id"], "label": Path(result["image_path"]).parent.name})

    page.goto(server.base + "/ui/?view=gallery")
    expect(page.locator(".grid .tile")).to_have_count(len(results))
    page.locator("#update-suggestions").click()
    status = page.locator("#status")
    expect(status).to_contain_text(f"suggestions updated: {len(results)} images relabelled", timeout=120_000)
    expect(status).not_to_have_class(ERROR)

    relabelled = server.get("/api/results", limit=1000)["items"]
    versions = {r["model_version_id"] for r in relabelled}
    assert len(versions) == 1 and versions.pop().startswith("quick-"), "every image relabelled by the one quick head"
    page.reload()
    tiles = page.locator(".grid .tile")
    expect(tiles).to_have_count(len(relabelled))
    shown = dict(
        zip(
            (int(t) for t in tiles.evaluate_all("ts => ts.map(t => t.dataset.id)")),
            page.locator(".tile .label").all_inner_texts(),
            strict=True,
        )
    )
    assert shown == {r["id"]: r["label"] for r in relabelled}, "the tiles show the quick head's labels"

    # The same answers again: the active head trained on all of them, so none is held out to compare on, and
    # the new fit learnt nothing the active one did not: the gate keeps the active version and says so.
    page.locator("#update-suggestions").click()
    expect(status).to_contain_text("suggestions not updated:", timeout=120_000)
    expect(status).to_contain_text("too few held-out answers")
    expect(status).to_contain_text("the active version stays")
    expect(status).to_have_class(ERROR)
    assert server.get("/api/results", limit=1000)["items"] == relabelled, "a refused head changes no suggestion"
