"""The API on PostgreSQL: result pages and exports, and jobs sent to real Celery workers."""

from __future__ import annotations

from mobilabel.storage import open_database
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS
from tests.integration.conftest import Cluster, wait_until
from tests.unit.api.test_results import check_pages_and_exports, store_results


def test_pages_filters_and_exports_on_postgresql(api: ClientFactory, postgres_url: str) -> None:
    open_database(postgres_url, auto_upgrade=True).dispose()
    client = api(MOBILABEL_DATABASE_URL=postgres_url)
    store_results()
    check_pages_and_exports(client)


def test_with_a_broker_jobs_go_to_the_workers(api: ClientFactory, cluster: Cluster) -> None:
    cluster.start_worker("api-worker")
    client = api(MOBILABEL_ALLOWED_ROOTS=str(FLOWERS))
    created = client.post("/api/jobs", json={"folder": str(FLOWERS / "val" / "roses"), "chunk_size": 8})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    assert created.json()["queue"] == "cpu"
    job = wait_until(lambda: (j := client.get(f"/api/jobs/{job_id}").json())["status"] == "completed" and j, 180, "the job")
    assert (job["total"], job["done"], job["failed"]) == (20, 20, 0)  # type: ignore[index]
    rows = client.get("/api/results", params={"job": job_id, "sort": "confidence"}).json()["items"]
    assert len(rows) == 20 and rows[0]["confidence"] <= rows[-1]["confidence"]
