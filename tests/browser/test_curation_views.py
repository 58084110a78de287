"""Likely mistakes, duplicates and "more like this" in Chromium (issue 29): a deliberately flipped answer
is near the top of the mistakes view and one key answers it; a resized copy of a photo is in its
original's group, and one answer for the group writes one answer per member with the group noted; the
resized copy is the first photo "more like" its original."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, ServerFactory, axe_violations, fits_width, mobilabel

pytestmark = pytest.mark.browser

# The first answer of a view waits for the server to read the library's embeddings and fit or index them:
# a bound on a loaded machine, not a speed claim (Playwright's default is 5 s).
LONG_MS = 60_000


def library_with_a_copy_and_a_flip(server: Server) -> tuple[dict[str, int], str, str, str]:
    """Label a 3/4-size copy of the first photo, answer every prepared photo with its folder's class but
    the last (a tulip answered daisy). Returns (result id by path, the original, its copy, the flipped)."""
    photos = sorted(str(p) for p in server.data.glob("*/*.jpg"))
    copy = server.extra / "resized-copy.jpg"
    with Image.open(photos[0]) as image:
        image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(copy, quality=90)
    mobilabel(server.env, "label", str(server.extra))
    ids = {r["image_path"]: r["id"] for r in server.get("/api/results", limit=1000)["items"]}
    flipped = photos[-1]
    for path in photos:
        label = "daisy" if path == flipped else Path(path).parent.name
        server.put("/api/corrections", {"result_id": ids[path], "label": label, "reviewer": "setup"})
    return ids, photos[0], str(copy), flipped


def answers(server: Server) -> dict[str, dict[str, object]]:
    return {a["image_path"]: a for a in server.get("/api/corrections")}


def test_mistakes_duplicates_and_more_like_this(serve: ServerFactory, page: Page, size: str) -> None:
    server = serve()
    ids, original, copy, flipped = library_with_a_copy_and_a_flip(server)

    # Likely mistakes: the flipped answer is among the first three of 30, with the model's label offered.
    page.goto(server.base + "/ui/?view=mistakes")
    page.locator("#reviewer").fill("ana")  # asked once, kept in the browser
    page.locator("#reviewer").press("Enter")
    rows = page.locator("li.mistake")
    expect(rows.first).to_be_focused(timeout=LONG_MS)
    shown = [int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.id)")]
    assert ids[flipped] in shown[:3], (shown, ids[flipped])
    row = page.locator(f'li.mistake[data-id="{ids[flipped]}"]')
    expect(row.locator(".given")).to_have_text("daisy")
    expect(row.locator(".suggested")).to_have_text("tulips")
    expect(row.locator("button.use")).to_have_text("Use tulips (a)")
    assert axe_violations(page) == []
    if size == "phone":
        assert fits_width(page)
    row.focus()
    page.keyboard.press("a")  # one key: the model's label
    expect(row.locator(".answer-state")).to_have_text("✓ answered tulips")
    assert {k: answers(server)[flipped][k] for k in ("label", "reviewer")} == {"label": "tulips", "reviewer": "ana"}
    expect(row).not_to_be_focused()  # on to the next open row
    other = rows.nth(1) if shown[0] == ids[flipped] else rows.first
    kept = next(p for p, i in ids.items() if i == int(other.get_attribute("data-id") or 0))
    before = answers(server)[kept]["label"]
    other.locator("button.keep").click()  # or a click: the given label stays, now the reviewer's
    expect(other.locator(".answer-state")).to_have_text(f"✓ answered {before}")
    assert {k: answers(server)[kept][k] for k in ("label", "reviewer")} == {"label": before, "reviewer": "ana"}

    # Duplicates: the copy is in its original's group (and nothing else is); one answer answers both.
    page.goto(server.base + "/ui/?view=duplicates")
    group = page.locator("section.group", has=page.locator(f'figure[data-id="{ids[copy]}"]'))
    expect(group).to_have_count(1, timeout=LONG_MS)
    members = group.locator("figure.member")
    assert sorted(int(i) for i in members.evaluate_all("fs => fs.map(f => f.dataset.id)")) == sorted([ids[original], ids[copy]])
    expect(group.locator("input[name=label]")).to_have_value("daisy")  # the answered member's label first
    assert axe_violations(page) == []
    if size == "phone":
        assert fits_width(page)
    group.locator("input[name=label]").fill("sunflowers")
    group.get_by_role("button", name="Answer all 2").click()
    expect(page.locator("#status")).to_contain_text("2 photos answered sunflowers")
    expect(group.locator(".summary")).to_have_text("2 photos · 2 answered · sunflowers ×2")
    stored = answers(server)
    pair = [stored[original], stored[copy]]
    assert [(a["label"], a["reviewer"]) for a in pair] == [("sunflowers", "ana")] * 2
    assert pair[0]["answer_group"] and pair[0]["answer_group"] == pair[1]["answer_group"]

    # More like this, from the image page: the copy comes first; answer it with the image at once.
    page.goto(server.base + f"/ui/?view=image&id={ids[original]}")
    page.locator("#more-like-this").click()
    tiles = page.locator("figure.member")
    expect(tiles.first).to_have_attribute("data-id", str(ids[copy]), timeout=LONG_MS)
    expect(tiles.first.locator(".label")).to_have_text("sunflowers")
    assert axe_violations(page) == []
    if size == "phone":
        assert fits_width(page)
    tiles.first.locator("input.pick").check()
    page.locator("#similar-label").fill("daisy")
    page.get_by_role("button", name="Answer 2 selected").click()
    expect(page.locator("#status")).to_contain_text("2 photos answered daisy")
    stored = answers(server)
    assert (stored[original]["label"], stored[copy]["label"]) == ("daisy", "daisy")
