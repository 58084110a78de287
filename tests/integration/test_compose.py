"""docker-compose.yml: its service graph, its settings, and its services' own commands run natively.

No Docker engine runs here, so the file is parsed and each service's command is
started as a plain process against the local Redis and PostgreSQL.
"""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from mobilabel.config import ENV_PREFIX, Settings
from mobilabel.storage import open_database
from mobilabel.storage.tables import Job, JobImage, Result
from tests.conftest import FLOWERS, REPO, create_postgres_database, drop_postgres_database
from tests.integration.conftest import Cluster, wait_until
from tests.s3_support import ACCESS_KEY, SECRET_KEY, S3Store
from tests.tcp_proxy import free_port

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = (REPO / ".env.example").read_text()
_REFERENCE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def example_values() -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", ENV_EXAMPLE, re.MULTILINE))


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's own substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, and $$ for a literal $."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        present = variables.get(name, "")
        if operator == ":-":
            return present or argument
        if operator == ":?" and not present:
            raise AssertionError(f"{name} is required: {argument}")
        return present

    value = re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", substitute, value)
    return value.replace("$$", "$")


def service_environment(name: str) -> dict[str, str]:
    variables = example_values()
    return {key: interpolate(str(value), variables) for key, value in SERVICES[name]["environment"].items()}


def test_the_service_graph_starts_in_order_on_healthchecks() -> None:
    assert set(SERVICES) == {
        "redis",
        "postgres",
        "migrate",
        "worker",
        "worker-slim",
        "worker-gpu",
        "scheduler",
        "watch",
        "flower",
        "web",
        "s3",
        "worker-s3",
    }
    for name in ("redis", "postgres"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["migrate"]["command"] == ["mobilabel", "db", "upgrade"]
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("worker", "worker-slim", "worker-gpu", "scheduler", "watch", "flower", "web"):
        assert SERVICES[name]["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert SERVICES["worker-s3"]["depends_on"]["s3"] == {"condition": "service_healthy"}
    assert SERVICES["s3"]["healthcheck"]["test"]
    order = list(TopologicalSorter({n: set(s.get("depends_on", {})) for n, s in SERVICES.items()}).static_order())
    assert order.index("migrate") > order.index("postgres") and order.index("worker") > order.index("migrate")


def test_the_deployment_is_safe_by_default() -> None:
    redis_command = " ".join(SERVICES["redis"]["command"])
    assert "--requirepass" in redis_command and "--appendonly yes" in redis_command
    assert "postgres-data:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    for name in ("worker", "worker-slim", "worker-gpu", "scheduler", "watch", "migrate", "flower", "web"):
        volumes = SERVICES[name]["volumes"]
        assert any(v.endswith(":/images:ro") for v in volumes), f"{name}: images mounted read-only"
        assert "models:/var/lib/mobilabel" in volumes, f"{name}: checkpoints volume"
    for name, service in SERVICES.items():
        assert "ports" not in service, f"{name} publishes a port: only the compose network may reach it"
    assert "FLOWER_BASIC_AUTH" in SERVICES["flower"]["environment"]
    # Flower runs through mobilabel, so it gets the app from the validated settings (broker, Redis key prefix).
    assert SERVICES["flower"]["command"][:2] == ["mobilabel", "flower"]
    assert not any("auth" in part for part in SERVICES["flower"]["command"]), "no password on a command line"
    gpu = SERVICES["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["args"]["TORCH_VARIANT"].startswith("cu")
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert "--device" in gpu["command"] and "cuda" in gpu["command"]
    assert set(COMPOSE["volumes"]) == {"redis-data", "postgres-data", "models", "s3-data"}
    # The S3 workers share no disk with anyone: no photo volume, only the weights and the models.
    assert not any(":/images" in v for v in SERVICES["worker-s3"]["volumes"])
    assert SERVICES["s3"]["profiles"] == SERVICES["worker-s3"]["profiles"] == ["s3"]
    assert ":?" in SERVICES["s3"]["environment"]["S3_SECRET_KEY"], "no store without keys"
    web = SERVICES["web"]
    assert "MOBILABEL_API_TOKEN" in web["environment"] and ":?" in web["environment"]["MOBILABEL_API_TOKEN"], (
        "no API without a token"
    )
    assert "/readyz" in " ".join(web["healthcheck"]["test"]) and "MOBILABEL_API_TOKEN']" in " ".join(web["healthcheck"]["test"])


def test_the_slim_worker_is_the_cpu_worker_built_without_torch() -> None:
    slim = SERVICES["worker-slim"]
    # The same command as the CPU worker, which test_migrate_worker_and_scheduler_run_natively runs; the
    # slim install itself is proven by `python -m bench.slim --check` (labels in a venv without torch).
    assert slim["command"] == SERVICES["worker"]["command"] and slim["profiles"] == ["slim"]
    assert slim["build"] == {"context": ".", "dockerfile": "Dockerfile.slim"} and slim["image"].startswith("mobilabel-slim:")
    assert slim["environment"] == SERVICES["worker"]["environment"], "the same broker, database and model cache"
    dockerfile = (REPO / "Dockerfile.slim").read_text()
    assert "pip install -r requirements/slim.txt" in dockerfile and "pip install --no-deps ." in dockerfile
    assert "torch" not in (REPO / "requirements" / "slim.txt").read_text().split("onnxruntime", 1)[1]
    assert '! python -c "import torch"' in dockerfile, "the image build fails if torch got in"


def test_every_setting_used_is_in_env_example() -> None:
    defined = set(example_values())
    referenced = set(_REFERENCE.findall((REPO / "docker-compose.yml").read_text()))
    assert referenced <= defined, f"used in docker-compose.yml but not in .env.example: {referenced - defined}"
    read_by_code = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    documented = set(re.findall(r"\b(MOBILABEL_\w+)", ENV_EXAMPLE))
    assert read_by_code <= documented, f"settings missing from .env.example: {read_by_code - documented}"


@pytest.fixture
def compose_env(cluster: Cluster) -> Iterator[dict[str, str]]:
    """The worker service's compose environment, with the compose network's hosts swapped for this
    machine's servers, and a fresh database that only the migrate service will migrate."""
    env = service_environment("worker")
    assert env["MOBILABEL_DATABASE_URL"].startswith("postgresql://mobilabel:change-me@postgres:5432/")
    assert env["MOBILABEL_BROKER_URL"] == "redis://:change-me@redis:6379/0"
    database_url = create_postgres_database()
    local = {
        name: cluster.env[name]
        for name in ("MOBILABEL_BROKER_URL", "MOBILABEL_REDIS_PREFIX", "MOBILABEL_HOME", "MOBILABEL_PRETRAINED")
    }
    yield {
        **env,
        **local,
        "MOBILABEL_DATABASE_URL": database_url,
        "MOBILABEL_ALLOWED_ROOTS": str(FLOWERS),
        "MOBILABEL_SWEEP_INTERVAL_S": "1",
    }
    cluster.stop()
    drop_postgres_database(database_url)


def mobilabel(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mobilabel", *arguments], env=env, capture_output=True, text=True, timeout=300)


def native(command: list[str]) -> list[str]:
    assert command[0] == "mobilabel"
    return command[1:]


def test_migrate_worker_and_scheduler_run_natively(cluster: Cluster, compose_env: dict[str, str]) -> None:
    env = {**cluster.env, **compose_env}
    migrated = mobilabel(native(SERVICES["migrate"]["command"]), env)
    assert migrated.returncode == 0, migrated.stderr
    database = open_database(compose_env["MOBILABEL_DATABASE_URL"])  # refuses an unmigrated server database
    database.dispose()

    metrics_port = free_port()
    worker = cluster.start(
        "worker", native(SERVICES["worker"]["command"]), **{**compose_env, "MOBILABEL_METRICS_PORT": str(metrics_port)}
    )
    wait_until(lambda: " ready." in worker.log and worker.log.count("loaded model version") >= 2, 180, "the worker service")
    scheduler = cluster.start("scheduler", native(SERVICES["scheduler"]["command"]), **compose_env)
    wait_until(lambda: "Sending due task sweep" in scheduler.log, 60, "the scheduler to send a sweep")
    wait_until(lambda: "mobilabel.sweep" in worker.log and "succeeded" in worker.log, 60, "a worker to run the sweep")

    enqueued = mobilabel(["enqueue", str(FLOWERS / "val" / "roses"), "--chunk", "8"], env)
    assert enqueued.returncode == 0, enqueued.stderr
    watched = mobilabel(["status", enqueued.stdout.strip(), "--watch", "--interval", "0.2"], env)
    assert "completed: 20/20 images (20 labelled, 0 failed, 0 skipped (unchanged))" in watched.stdout, (
        watched.stdout + watched.stderr
    )
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    print("\n" + "\n".join(line for line in metrics.splitlines() if line.startswith("mobilabel_") and "_bucket" not in line))
    assert "mobilabel_images_labelled_total 20.0" in metrics
    assert "mobilabel_images_failed_total 0.0" in metrics
    assert "mobilabel_batch_size_count 3.0" in metrics  # chunks of 8: 8 + 8 + 4
    assert re.search(r'mobilabel_model_version_info\{version="imagenet-\w+"\} 1\.0', metrics)
    assert "mobilabel_queue_wait_seconds_count 3.0" in metrics


def test_the_s3_worker_labels_a_bucket_natively(cluster: Cluster, compose_env: dict[str, str], s3: S3Store) -> None:
    """The worker-s3 service, its compose environment pointed at this machine's store: photos only in the bucket."""
    bucket = s3.new_bucket()
    s3.put_folder(FLOWERS / "val" / "roses", bucket, "library")
    compose = {
        **example_values(),
        "S3_ACCESS_KEY": ACCESS_KEY,
        "S3_SECRET_KEY": SECRET_KEY,
        "S3_LIBRARY": f"s3://{bucket}/library",
    }
    service = {key: interpolate(str(value), compose) for key, value in SERVICES["worker-s3"]["environment"].items()}
    assert service["AWS_ENDPOINT_URL_S3"] == "http://s3:8333"
    # What this service sets beyond every worker's: the store's variables and its allowed prefix.
    worker_env = {k: v for k, v in service.items() if k.startswith("AWS_") or k == "MOBILABEL_ALLOWED_ROOTS"}
    assert worker_env["MOBILABEL_ALLOWED_ROOTS"] == f"s3://{bucket}/library"
    env = {**cluster.env, **compose_env, **worker_env, "AWS_ENDPOINT_URL_S3": s3.endpoint}
    assert mobilabel(native(SERVICES["migrate"]["command"]), env).returncode == 0
    worker = cluster.start("worker-s3", native(SERVICES["worker-s3"]["command"]), **env)
    wait_until(lambda: " ready." in worker.log and worker.log.count("loaded model version") >= 2, 180, "the worker-s3 service")
    enqueued = mobilabel(["enqueue", f"s3://{bucket}/library", "--chunk", "8"], env)
    assert enqueued.returncode == 0, enqueued.stderr
    watched = mobilabel(["status", enqueued.stdout.strip(), "--watch", "--interval", "0.2"], env)
    assert "completed: 20/20 images (20 labelled, 0 failed, 0 skipped (unchanged))" in watched.stdout, (
        watched.stdout + watched.stderr + worker.log[-3000:]
    )


def test_the_web_service_runs_natively_and_its_healthcheck_passes(cluster: Cluster, compose_env: dict[str, str]) -> None:
    env = {**cluster.env, **compose_env, **{k: v for k, v in service_environment("web").items() if k.startswith("MOBILABEL_API")}}
    assert env["MOBILABEL_API_TOKEN"].startswith("change-me") and len(env["MOBILABEL_API_TOKEN"]) >= 32  # a public bind's length
    assert mobilabel(native(SERVICES["migrate"]["command"]), env).returncode == 0
    port = free_port()
    command = [part if part != "8000" else str(port) for part in native(SERVICES["web"]["command"])]
    web = cluster.start("web", command, **{k: v for k, v in env.items() if k.startswith("MOBILABEL_")})
    healthcheck = [part.replace("8000", str(port)) for part in SERVICES["web"]["healthcheck"]["test"][1:]]
    assert healthcheck[0] == "python"

    def healthy() -> bool:
        return subprocess.run([sys.executable, *healthcheck[1:]], env=env, capture_output=True, timeout=30).returncode == 0

    wait_until(lambda: healthy() or not web.alive(), 120, "the web service's healthcheck")
    assert web.alive(), web.log
    no_token = subprocess.run(
        [sys.executable, *healthcheck[1:]], env={**env, "MOBILABEL_API_TOKEN": "wrong"}, capture_output=True, text=True
    )
    assert no_token.returncode != 0 and "401" in no_token.stderr


def small_photo(index: int) -> bytes:
    """A small JPEG of its own content (a colour from ``index``), as a camera upload would arrive."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (48, 40), (index % 256, (index * 7) % 256, (index * 13) % 256)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_the_watch_service_sends_a_growing_folder_to_the_workers_once(
    cluster: Cluster, compose_env: dict[str, str], tmp_path: Path
) -> None:
    """1,000 photos written while `watch` runs (the compose service's command, natively) are each labelled once."""
    library = tmp_path / "images"
    library.mkdir()
    env = {**cluster.env, **compose_env, "MOBILABEL_ALLOWED_ROOTS": str(library)}
    assert mobilabel(native(SERVICES["migrate"]["command"]), env).returncode == 0
    worker_env = {**compose_env, "MOBILABEL_ALLOWED_ROOTS": str(library), "MOBILABEL_METRICS_PORT": str(free_port())}
    worker = cluster.start("worker", native(SERVICES["worker"]["command"]), **worker_env)
    command = native(SERVICES["watch"]["command"])
    assert command == ["watch", "/images"]
    watch = cluster.start("watch", [command[0], str(library)], **{**compose_env, "MOBILABEL_ALLOWED_ROOTS": str(library)})
    wait_until(lambda: "watching" in watch.log or not watch.alive(), 120, "the watch service")
    assert "filesystem events" in watch.log and "sending to queue cpu" in watch.log, watch.log
    wait_until(lambda: " ready." in worker.log, 180, "the worker service")

    photos = [library / f"{n // 100:02d}" / f"photo-{n:04d}.jpg" for n in range(1000)]
    for n, path in enumerate(photos):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(small_photo(n))
    database = open_database(compose_env["MOBILABEL_DATABASE_URL"])
    try:

        def labelled() -> int:
            with database.transaction() as session:
                return session.scalar(select(func.count()).select_from(Result).where(Result.status == "ok")) or 0

        wait_until(lambda: labelled() == 1000, 600, "1,000 photos labelled")
        with database.transaction() as session:
            once = session.execute(
                select(JobImage.image_path, func.count()).where(JobImage.outcome == "labelled").group_by(JobImage.image_path)
            ).all()
            sent = session.scalar(select(func.sum(Job.total)))
    finally:
        database.dispose()
    assert sorted(str(path) for path, _ in once) == sorted(str(p) for p in photos)
    assert {n for _, n in once} == {1} and sent == 1000, "each photo sent and labelled exactly once"
    watch.process.send_signal(signal.SIGTERM)  # docker compose stop
    assert watch.process.wait(timeout=60) == 0, watch.log
    assert "stopped watching" in watch.log
