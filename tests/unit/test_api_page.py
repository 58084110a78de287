"""The review page's files, served by the package without credentials (they hold no data) while
every API call still needs them; a job's label distribution for the page's chart."""

from __future__ import annotations

from pathlib import Path

from tests.api_support import ClientFactory, api  # noqa: F401
from tests.unit.test_api_jobs import photos, wait_for_end

TOKEN = "s3cret-token-for-tests"


def test_the_page_is_served_by_the_package_and_holds_no_data(api: ClientFactory) -> None:  # noqa: F811
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (307, "/ui/")
    page = client.get("/ui/")
    assert page.status_code == 200 and 'src="app.js"' in page.text and "http" not in page.text.replace('http-equiv', '')  # no CDN
    script = client.get("/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "/api/corrections" in script.text and "/api/session" in script.text
    assert client.get("/ui/style.css").status_code == 200
    assert client.get("/ui/%2e%2e/page.py").status_code == 404  # nothing beside the static folder
    # The page's files need no token, the data behind them does; a page state change is refused too.
    assert client.get("/api/jobs").status_code == 401
    assert client.post("/ui/", headers={"Origin": "http://localhost"}).status_code == 401
    logged_in = client.post("/api/session", json={"token": TOKEN})
    assert logged_in.status_code == 204
    assert client.get("/api/jobs").status_code == 200  # with the session cookie the login form got
    refused = client.put("/api/corrections", json={"image_path": "/x.jpg", "label": "daisy"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403


def test_a_jobs_label_distribution(api: ClientFactory, tmp_path: Path) -> None:  # noqa: F811
    folder = photos(tmp_path / "root" / "roses", 4)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    job_id = client.post("/api/jobs", json={"folder": str(folder)}).json()["id"]
    assert wait_for_end(client, job_id)["status"] == "completed"
    rows = client.get(f"/api/jobs/{job_id}/labels").json()
    results = client.get("/api/results", params={"job": job_id}).json()["items"]
    expected: dict[tuple[str | None, str], int] = {}
    for r in results:
        expected[(r["label"], r["status"])] = expected.get((r["label"], r["status"]), 0) + 1
    assert {(r["label"], r["status"]): r["images"] for r in rows} == expected
    assert (None, "failed") in expected and sum(expected.values()) == 5
    assert [r["images"] for r in rows] == sorted((r["images"] for r in rows), reverse=True)
    assert client.get("/api/jobs/999/labels").status_code == 404
