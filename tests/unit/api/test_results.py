"""/api/results: the CLI's filters, every sort paged by cursor (ties and rows without values
included), and streamed exports equal to the pages; `mobilabel results` streams the same bytes."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.storage import jobs, open_database, versions
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from tests.api_support import ClientFactory

SORTS = ("path", "label", "confidence", "-confidence", "time", "-time")
SORT_FIELD = {"path": "image_path", "label": "label", "confidence": "confidence", "time": "updated_at"}


def store_results() -> int:
    """61 rows in 3 batches: two jobs, ties in label and confidence, 7 failed rows without either. Returns job 1's id."""
    db = open_database(load_settings().database_url, auto_upgrade=True)
    with db.transaction() as session:
        versions.register_version(
            session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["daisy", "rose", "tulip"], {}, b"w"), activate=True
        )
        job_ids = [jobs.create_job(session, f"/photos/{n}", "v1").id for n in ("a", "b")]
    for batch in range(3):
        records = []
        for i in range(batch * 21, min(61, batch * 21 + 21)):
            path = f"/photos/{'ab'[i % 2]}/{i % 5}/img_{i:03d}.jpg"
            if i % 9 == 4:
                records.append(ResultRecord(path, "1:1", ResultStatus.FAILED, error="corrupt image"))
            else:
                label = ("daisy", "rose", "tulip")[i % 3]
                records.append(
                    ResultRecord(
                        path,
                        "1:1",
                        ResultStatus.OK,
                        label,
                        round((i * 37 % 10) / 10, 1),
                        [{"label": label, "confidence": 0.5}],
                        content_hash=f"{i:032x}",
                    )
                )
        with db.transaction() as session:
            write_results(session, records, "v1", job_ids[batch % 2])
    db.dispose()
    return job_ids[0]


def expected_order(rows: list[dict[str, Any]], sort: str) -> list[int]:
    field = SORT_FIELD[sort.lstrip("-")]
    valued = [r for r in rows if r[field] is not None]
    empty = [r for r in rows if r[field] is None]
    descending = sort.startswith("-")  # ties, and rows without a value, by id the same way
    valued.sort(key=lambda r: (r[field], r["id"]), reverse=descending)
    return [r["id"] for r in valued] + sorted((r["id"] for r in empty), reverse=descending)


def all_pages(client: TestClient, limit: int, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get("/api/results", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        rows += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def check_pages_and_exports(client: TestClient) -> None:
    """Shared with the PostgreSQL test: every sort, filters, cursors and exports."""
    job_id = client.get("/api/jobs").json()[-1]["id"]
    everything = all_pages(client, 1000)
    assert len(everything) == 61
    for sort in SORTS:
        for limit in (1, 7, 61):
            paged = all_pages(client, limit, sort=sort)
            assert [r["id"] for r in paged] == expected_order(everything, sort), (sort, limit)

    lowest_first = all_pages(client, 5, job=job_id, status="ok", sort="confidence")
    assert lowest_first and all(r["job_id"] == job_id and r["status"] == "ok" for r in lowest_first)
    assert [r["confidence"] for r in lowest_first] == sorted(r["confidence"] for r in lowest_first)
    roses = all_pages(client, 4, label="rose", min_confidence=0.3, max_confidence=0.7, sort="-confidence")
    assert roses and all(r["label"] == "rose" and 0.3 <= r["confidence"] <= 0.7 for r in roses)
    assert len(roses) == sum(1 for r in everything if r["label"] == "rose" and 0.3 <= (r["confidence"] or -1) <= 0.7)
    failed = all_pages(client, 3, status="failed")
    assert len(failed) == 7 and all(r["error"] == "corrupt image" and r["confidence"] is None for r in failed)
    under_a3 = all_pages(client, 2, path="/photos/a/3/*")
    assert under_a3 and {r["id"] for r in under_a3} == {r["id"] for r in everything if r["image_path"].startswith("/photos/a/3/")}
    assert client.get("/api/results", params={"version": "v1", "limit": 1}).json()["items"]
    assert len(all_pages(client, 100, version="active")) == 61  # v1 is active: a version by reference, as the CLI takes it
    unknown = client.get("/api/results", params={"version": "v2"})
    assert unknown.status_code == 422 and "v1" in unknown.json()["detail"]  # says what exists
    assert "did you mean 'rose'" in client.get("/api/results", params={"label": "Rose"}).json()["detail"]
    assert client.get("/api/results", params={"job": 999}).status_code == 422

    cursor = client.get("/api/results", params={"limit": 2, "sort": "label"}).json()["next_cursor"]
    other_sort = client.get("/api/results", params={"cursor": cursor, "sort": "path"})
    assert other_sort.status_code == 400 and "belongs to sort 'label'" in other_sort.json()["detail"]
    assert client.get("/api/results", params={"cursor": "not-a-cursor"}).status_code == 400
    assert client.get("/api/results", params={"sort": "id"}).status_code == 422
    assert client.get("/api/results", params={"min_confidence": 2}).status_code == 422
    first = everything[0]
    assert client.get(f"/api/results/{first['id']}").json() == first
    assert client.get("/api/results/999999").status_code == 404

    exported = client.get("/api/results/export", params={"format": "csv", "sort": "-confidence", "label": "tulip"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    csv_rows = list(csv.DictReader(io.StringIO(exported.text)))
    tulips = all_pages(client, 100, sort="-confidence", label="tulip")
    assert [r["image_path"] for r in csv_rows] == [r["image_path"] for r in tulips]
    assert [json.loads(r["top_k"]) for r in csv_rows] == [r["top_k"] for r in tulips]
    lines = [
        json.loads(line)
        for line in client.get("/api/results/export", params={"format": "jsonl", "sort": "time"}).text.splitlines()
    ]
    by_time = all_pages(client, 100, sort="time")
    assert lines == [{k: r[k] for k in lines[0]} for r in by_time]  # every value exactly as the pages give it

    # Unreviewed only: an image whose content has an answer (a class, other or skip) leaves the view.
    answered = [r for r in everything if r["status"] == "ok"][:3]
    for row, label in zip(answered, ("rose", "other", "skip"), strict=True):
        assert client.put("/api/corrections", json={"result_id": row["id"], "label": label}).status_code == 201
    unreviewed = all_pages(client, 7, unreviewed="true", sort="confidence")
    assert {r["id"] for r in unreviewed} == {r["id"] for r in everything} - {r["id"] for r in answered}
    assert all(r["verified_label"] is None for r in unreviewed)


def test_pages_filters_and_exports(api: ClientFactory) -> None:
    store_results()
    check_pages_and_exports(api())


def test_the_cli_streams_csv_json_and_json_lines_alike() -> None:
    store_results()

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["results", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    as_json = json.loads(run("--format", "json", "--sort", "-confidence"))
    as_jsonl = [json.loads(line) for line in run("--format", "jsonl", "--sort", "-confidence").splitlines()]
    as_csv = list(csv.DictReader(io.StringIO(run("--format", "csv", "--sort", "-confidence"))))
    assert len(as_json) == 61 and as_json == as_jsonl
    assert [r["image_path"] for r in as_csv] == [r["image_path"] for r in as_json]
    assert json.loads(run("--format", "json", "--label", "tulip", "--min-confidence", "0.99")) == []
    assert len(json.loads(run("--format", "json", "--limit", "5"))) == 5
