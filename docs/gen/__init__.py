"""The docs site's generated pages: written from the code and the benchmark CSVs, so they cannot drift.

``python -m docs.gen`` writes every page; ``python -m docs.gen --check`` lists the stale ones and
exits 1. ``pages()`` gives each page's path (relative to the repository) and its text, for the test
that compares them with the committed files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import benchmarks, configuration, openapi

REPO = Path(__file__).resolve().parents[2]

# Each generated file (relative to the repository) and what writes it.
GENERATORS: dict[str, Callable[[], str]] = {
    "docs/configuration.md": configuration.page,
    "docs/api/openapi.json": openapi.spec_json,
    "docs/api/reference.md": openapi.reference_page,
    **{f"docs/benchmarks/{name}.md": page for name, page in benchmarks.PAGES.items()},
}


def pages() -> dict[str, str]:
    """Every generated file's repository-relative path and its current text."""
    return {path: generate() for path, generate in GENERATORS.items()}


def stale(generated: dict[str, str]) -> list[str]:
    """The paths whose committed file is missing or differs from ``generated``."""
    return [path for path, text in generated.items() if not (REPO / path).is_file() or (REPO / path).read_text() != text]
