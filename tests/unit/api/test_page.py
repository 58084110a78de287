"""The review page's files, served by the package without credentials (they hold no data) while
every API call still needs them; a job's label distribution for the page's chart; /api/meta, the
state names and defaults the page reads instead of copying them."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mobilabel.api.page import STATIC_DIR
from mobilabel.storage.classes import OTHER, SKIP
from mobilabel.storage.states import ACTIVE_JOB_STATES, ACTIVE_RUN_STATES, JobState, RunState
from mobilabel.training.data import DEFAULT_VAL_FRACTION
from mobilabel.training.options import DEFAULT_EPOCHS
from tests.api_support import ClientFactory
from tests.unit.api.test_jobs import photos, wait_for_end

TOKEN = "s3cret-token-for-tests"


def test_the_page_is_served_by_the_package_and_holds_no_data(api: ClientFactory) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (307, "/ui/")
    page = client.get("/ui/")
    assert page.status_code == 200 and 'src="app.js"' in page.text and "http" not in page.text.replace("http-equiv", "")  # no CDN
    # Every module the page imports, from app.js down, is served as JavaScript (no build step, no CDN).
    todo, served = ["app.js"], {}
    while todo:
        name = todo.pop()
        script = client.get(f"/ui/{name}")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"], name
        served[name] = script.text
        for imported in re.findall(r'\bfrom "(\.{1,2}/[^"]+)";', script.text):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), imported))
            if target not in served:
                todo.append(target)
    assert {p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*.js")} == set(served)  # nothing unused ships
    assert any("/api/corrections" in text for text in served.values()) and any("/api/session" in text for text in served.values())
    for sheet in re.findall(r'href="([^"]+\.css)"', page.text):
        assert client.get(f"/ui/{sheet}").status_code == 200
    assert not re.search(r"<script>|\sstyle=|\son\w+=", page.text)  # nothing Content-Security-Policy default-src 'self' blocks
    assert client.get("/ui/%2e%2e/page.py").status_code == 404  # nothing beside the static folder
    # The page's files need no token, the data behind them does; a page state change is refused too.
    assert client.get("/api/jobs").status_code == 401
    assert client.post("/ui/", headers={"Origin": "http://localhost"}).status_code == 401
    logged_in = client.post("/api/session", json={"token": TOKEN})
    assert logged_in.status_code == 204
    assert client.get("/api/jobs").status_code == 200  # with the session cookie the login form got
    refused = client.put(
        "/api/corrections", json={"image_path": "/x.jpg", "label": "daisy"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert refused.status_code == 403


def test_a_jobs_label_distribution(api: ClientFactory, tmp_path: Path) -> None:
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


def test_meta_gives_the_page_the_servers_names_and_defaults(api: ClientFactory, tmp_path: Path) -> None:
    meta = api().get("/api/meta").json()
    assert meta["job_states"] == {"all": list(JobState), "active": list(ACTIVE_JOB_STATES)}
    assert meta["run_states"] == {"all": list(RunState), "active": list(ACTIVE_RUN_STATES)}
    assert meta["result_states"] == ["ok", "failed"] and "confidence" in meta["result_sorts"]
    assert (
        meta["training_defaults"]["epochs"] == DEFAULT_EPOCHS
        and meta["training_defaults"]["val_fraction"] == DEFAULT_VAL_FRACTION
    )
    assert meta["allowed_roots_set"] is False
    assert meta["answers"] == {"other": OTHER, "skip": SKIP}
    assert api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path)).get("/api/meta").json()["allowed_roots_set"] is True
