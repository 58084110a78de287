"""Worker pool processes start within Celery's limits however slow the model load, and a worker that cannot serve
says so: in its log, its metrics and the server's /readyz."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.api_support import ClientFactory
from tests.conftest import FLOWERS, REPO
from tests.integration.conftest import Cluster, WorkerProcess, wait_until
from tests.tcp_proxy import free_port

# The worker command with every model load made slower than Celery's 4 s for a pool process to come up
# (worker_proc_alive_timeout), as on a machine under heavy load.
SLOW_LOAD = """
import sys, time
import mobilabel.worker.runtime as runtime
load = runtime.load_classifier
def slow(*args, **kwargs):
    time.sleep(8)
    return load(*args, **kwargs)
runtime.load_classifier = slow
from mobilabel.cli.main import main
sys.argv[0] = "mobilabel"
main()
"""


def start_slow_worker(cluster: Cluster, name: str, concurrency: int) -> WorkerProcess:
    log_path = cluster.tmp / f"{name}.log"
    command = [sys.executable, "-c", SLOW_LOAD, "worker", f"--concurrency={concurrency}", f"--name={name}@%h", "--queues=cpu"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=cluster.env, start_new_session=True
        )
    worker = WorkerProcess(name, process, log_path)
    cluster.workers.append(worker)
    return worker


def test_pool_processes_come_up_however_slow_the_model_load(cluster: Cluster) -> None:
    worker = start_slow_worker(cluster, "slow", concurrency=2)
    wait_until(lambda: " ready." in worker.log or not worker.alive(), 120, "the worker to start")
    children = sorted(worker.children())
    job_id = cluster.enqueue(FLOWERS / "val" / "roses", chunk_size=4)  # sent while the models are still loading
    job = cluster.wait_for_job(job_id, 180)
    assert (job.done, job.failed) == (20, 0)
    assert worker.log.count("loaded model version") == 2
    assert "Timed out waiting for UP message" not in worker.log
    assert sorted(worker.children()) == children, "no pool process was killed and replaced"


def test_a_worker_that_cannot_serve_says_so(cluster: Cluster, api: ClientFactory, tmp_path: Path) -> None:
    port = free_port()
    broken = cluster.start(
        "broken",
        ["worker", "--concurrency=1", "--queues=gpu"],
        MOBILABEL_PRETRAINED=str(tmp_path / "missing.pth"),
        MOBILABEL_METRICS_PORT=str(port),
        MOBILABEL_HEARTBEAT_S="1",
    )
    wait_until(lambda: "cannot serve" in broken.log or not broken.alive(), 120, "the worker to fail to load its model")
    metrics = wait_until(lambda: _get(f"http://127.0.0.1:{port}/metrics"), 30, "the worker's metrics")
    assert "mobilabel_worker_processes_unable 1.0" in str(metrics) and "mobilabel_worker_processes_serving 0.0" in str(metrics)

    client = api()
    ready = client.get("/readyz").json()
    workers = ready["checks"]["workers"]
    assert not workers["ok"] and "no worker process can serve" in workers["detail"] and "missing.pth" in workers["detail"], (
        workers
    )
    assert ready["ready"], "queries are still served: the server itself is ready"

    cluster.start_worker("good", MOBILABEL_HEARTBEAT_S="1")
    workers = wait_until(
        lambda: (w := client.get("/readyz").json()["checks"]["workers"])["ok"] and w, 60, "the good worker to be counted"
    )
    assert "1 worker processes serving; 1 cannot" in workers["detail"]  # type: ignore[index]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None
