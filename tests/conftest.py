"""Fixtures every test may use: the shared data, and a private database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOBILABEL_SHARED", REPO.parent / "shared"))
FLOWERS = SHARED / "datasets" / "flowers"
IMAGENET_WEIGHTS = SHARED / "weights" / "mobilenet_v2_imagenet.pth"
POSTGRES_ADMIN_URL = os.environ.get("MOBILABEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# Fixtures kept in helper modules, shared with every test as this file's own are (no imports of fixtures).
pytest_plugins = ["tests.api_support"]


@pytest.fixture(autouse=True)
def private_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own data folder and SQLite file; no setting leaks in from the shell."""
    for name in list(os.environ):
        if name.startswith("MOBILABEL_") and name not in ("MOBILABEL_SHARED", "MOBILABEL_TEST_POSTGRES_URL"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("MOBILABEL_HOME", str(home))
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.setenv("MOBILABEL_PRETRAINED", str(IMAGENET_WEIGHTS))
    return home


@pytest.fixture(scope="session")
def flower_images() -> list[Path]:
    images = sorted(FLOWERS.glob("*/*/*.jpg"))
    assert len(images) == 609, f"expected the 609 shared flower photos under {FLOWERS}"
    return images


@pytest.fixture(scope="session")
def val_images() -> list[Path]:
    return sorted((FLOWERS / "val").glob("*/*.jpg"))


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database for one test; returns its URL."""
    name = f"mobilabel_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers: everything under tests/integration needs the real servers, so it is marked `integration`
    (as is the PostgreSQL side of ``database_url``); `pytest -m "not integration"` runs without them."""
    integration = REPO / "tests" / "integration"
    for item in items:
        if item.path.is_relative_to(integration):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test runs once on a fresh SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'param.db'}"
        monkeypatch.setenv("MOBILABEL_DATABASE_URL", url)
        yield url
        return
    url = create_postgres_database()
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", url)
    yield url
    drop_postgres_database(url)
