"""The docs cannot drift: every setting is described, generated pages match their sources, the README stays a front page."""

from __future__ import annotations

import re

import pytest

from docs.gen import REPO, benchmarks, pages, stale
from docs.gen.configuration import variable
from mobilabel.config import Settings


def test_every_setting_has_a_description() -> None:
    missing = [variable(name) for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == [], f"give these settings Field(description=...) in mobilabel/config.py: {missing}"


def test_the_configuration_page_lists_every_setting() -> None:
    page = pages()["docs/configuration.md"]
    listed = set(re.findall(r"^\| `(MOBILABEL_\w+)` \|", page, re.MULTILINE))
    assert listed == {variable(name) for name in Settings.model_fields}


def test_generated_pages_are_current() -> None:
    outdated = stale(pages())
    assert outdated == [], f"stale generated pages (run python -m docs.gen and commit them): {outdated}"


def test_a_changed_source_makes_its_page_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    # The comparison must be able to fail: a description edited in the model no longer matches the page.
    field = Settings.model_fields["top_k"]
    monkeypatch.setattr(field, "description", "edited")
    assert stale({"docs/configuration.md": pages()["docs/configuration.md"]}) == ["docs/configuration.md"]


def test_every_benchmark_csv_belongs_to_exactly_one_page() -> None:
    claimed = {
        path.name: [page for page, patterns in benchmarks.CLAIMS.items() if any(path.match(p) for p in patterns)]
        for path in benchmarks.RESULTS.glob("*.csv")
    }
    assert {name: owners for name, owners in claimed.items() if len(owners) != 1} == {}
    assert set(benchmarks.CLAIMS) == set(benchmarks.PAGES)
    assert not list((REPO / "bench").glob("*.csv")), "benchmark CSVs live under bench/results/"


def test_the_readme_is_a_front_page_whose_links_exist() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert 'pytest -m "not integration"' in readme
    links = re.findall(r"\]\(([^)#\s]+)", readme)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local, "the README links to the docs pages"
    assert [link for link in local if not (REPO / link).exists()] == []
