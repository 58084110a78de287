"""Photos that live only in a bucket (a real SeaweedFS server): the gallery and the image view show them,
streamed through the server, under the page's ``default-src 'self'`` policy (no presigned URL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ServerFactory, mobilabel
from tests.conftest import FLOWERS
from tests.s3_support import S3Store, running_store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    with running_store(tmp_path_factory.mktemp("seaweedfs")) as running:
        yield running


def test_the_page_shows_photos_from_a_bucket(store: S3Store, serve: ServerFactory, page: Page) -> None:
    bucket = store.new_bucket()
    store.put_folder(FLOWERS / "val" / "roses", bucket, "lib")
    prefix = f"s3://{bucket}/lib"
    server = serve(bucket_roots=(prefix,), **store.env)
    mobilabel(server.env, "label", prefix)
    items = server.get("/api/results", path=f"{prefix}/*", limit=100)["items"]
    assert items and all(r["image_path"].startswith(f"{prefix}/") for r in items)

    page.goto(server.base + f"/ui/?view=gallery&path={prefix}/*")
    tiles = page.locator(".grid .tile img")
    expect(tiles).to_have_count(len(items))
    tiles.first.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=tiles.first.element_handle())

    page.goto(server.base + f"/ui/?view=image&id={items[0]['id']}")
    photo = page.locator("img.photo")
    expect(photo).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    assert photo.evaluate("img => new URL(img.src).origin") == server.base  # through the server, not the bucket
