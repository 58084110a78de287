"""The label lifecycle's storage tests (tests/unit/storage/test_lifecycle_storage.py), on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.unit.storage.test_lifecycle_storage import *  # noqa: F403 (the same tests, collected here too)


@pytest.fixture
def db_url(postgres_url: str) -> str:  # replaces the SQLite file of the unit module
    return postgres_url
