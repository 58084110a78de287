"""indexes for the API's result pages: a job's or a label's results by confidence, failed rows, path patterns

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-29
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"  # 0008 was released first: databases stamped either depend on this order
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    # Each serves a page in keyset order (sort column, then id) without sorting the whole match.
    op.create_index("ix_results_job_confidence", "results", ["job_id", "confidence", "id"])
    op.create_index("ix_results_label_confidence", "results", ["label", "confidence", "id"])
    op.create_index("ix_results_status_path", "results", ["status", "image_path"])
    if op.get_bind().dialect.name == "postgresql" and _trigrams_available():
        # Path patterns match anywhere in the path (LIKE '%...%'): a trigram index serves them, a B-tree cannot.
        op.create_index(
            "ix_results_image_path_pattern",
            "results",
            ["image_path"],
            postgresql_using="gin",
            postgresql_ops={"image_path": "gin_trgm_ops"},
        )
    else:
        op.create_index("ix_results_image_path_pattern", "results", [sa.column("image_path")])


def _trigrams_available() -> bool:
    """Whether pg_trgm is (or could now be) installed: it is a contrib module, and creating it
    needs the CREATE privilege on the database. Without it, patterns are matched unindexed."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():  # a failed statement must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning(
            "PostgreSQL's pg_trgm extension cannot be created (%s): path patterns that do not start "
            "with / will be matched without an index",
            str(exc.orig).splitlines()[0],
        )
        return False
    return True


def downgrade() -> None:
    op.drop_index("ix_results_image_path_pattern", table_name="results")
    op.drop_index("ix_results_status_path", table_name="results")
    op.drop_index("ix_results_label_confidence", table_name="results")
    op.drop_index("ix_results_job_confidence", table_name="results")
