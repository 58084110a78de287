"""labels accepted at a stated precision, and versions' out-of-fold predictions of their answers (issue 28)

Revision ID: 0016_accept
Revises: 0015_groups
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_accept"
down_revision = "0015_groups"
branch_labels = None
depends_on = None

_PATH = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")  # as storage.pathcodec.StoredPath


def upgrade() -> None:
    op.create_table(
        "acceptances",
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("image_path", _PATH, nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("precision", sa.Float(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("content_hash"),
    )

    op.create_table(
        "held_out_predictions",
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "content_hash"),
    )


def downgrade() -> None:
    op.drop_table("held_out_predictions")
    op.drop_table("acceptances")
