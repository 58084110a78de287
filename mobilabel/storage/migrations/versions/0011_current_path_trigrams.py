"""the PostgreSQL trigram index on result paths covers current rows only: exact-path lookups stay on the B-tree

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_GIN: dict[str, Any] = {"postgresql_using": "gin", "postgresql_ops": {"image_path": "gin_trgm_ops"}}


def upgrade() -> None:
    # pg_trgm's GIN index also answers `image_path = ANY(...)`, and the planner chose it over the
    # (image_path, version) B-tree for storage.current's per-batch flip, many times slower for a batch of
    # paths that share most trigrams (docs/design/results-at-scale.md). Partial, it serves only what it is for (anywhere
    # patterns over current rows, the results view's default) and no all-rows lookup can use it.
    if _has_trigrams():
        op.drop_index("ix_results_image_path_pattern", table_name="results")
        op.create_index(
            "ix_results_image_path_pattern", "results", ["image_path"], postgresql_where=sa.text("is_current"), **_GIN
        )


def downgrade() -> None:
    if _has_trigrams():
        op.drop_index("ix_results_image_path_pattern", table_name="results")
        op.create_index("ix_results_image_path_pattern", "results", ["image_path"], **_GIN)


def _has_trigrams() -> bool:
    """PostgreSQL with pg_trgm: 0007 made the trigram index (without it, a plain B-tree that stays)."""
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(
        bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
    )
