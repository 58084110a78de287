"""Results already stored for a content: a copy or a rename of a labelled file costs no inference.

The labeller asks, once per batch and before decoding, which of the batch's content hashes the
model version in force already labelled (an ``ok`` row at any path); both drivers (embedded and the
workers' chunks) give it this lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..storage import Database
from ..storage.result_queries import labelled_contents
from ..storage.results import ResultRecord
from ..storage.retry import with_db_retry
from .labeller import KnownResults


def stored_results(db: Database, patience_s: float = 0.0) -> KnownResults:
    """A ``KnownResults`` reading ``db``: one query (one transaction) per batch of content hashes, retried
    through a database outage for up to ``patience_s`` seconds (``retry.with_db_retry``)."""

    def lookup(content_hashes: Sequence[str], model_version_id: str) -> Mapping[str, ResultRecord]:
        def query() -> Mapping[str, ResultRecord]:
            with db.transaction() as session:
                return labelled_contents(session, content_hashes, model_version_id)

        return with_db_retry(query, patience_s, "look up contents")

    return lookup
