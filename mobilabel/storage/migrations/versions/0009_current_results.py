"""results.is_current: each image's current row kept as a flag, with partial indexes for pages of current rows

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_results_current_confidence": ["confidence", "id"],
    "ix_results_current_label_confidence": ["label", "confidence", "id"],
    "ix_results_current_status_path": ["status", "image_path", "id"],
    "ix_results_current_path": ["image_path", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("is_current", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_model_versions_id_created_at", "model_versions", ["id", "created_at"])
    # The backfill applies the rule of storage.current to every path, as every later change does to its own.
    from sqlalchemy.orm import Session

    from mobilabel.storage.current import refresh_current

    session = Session(bind=op.get_bind())
    refresh_current(session, None)
    session.flush()
    for name, columns in _INDEXES.items():
        op.create_index(name, "results", columns, postgresql_where=sa.text("is_current"), sqlite_where=sa.text("is_current = 1"))


def downgrade() -> None:
    op.drop_index("ix_model_versions_id_created_at", table_name="model_versions")
    for name in _INDEXES:
        op.drop_index(name, table_name="results")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("is_current")
