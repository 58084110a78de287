"""stored embeddings: each image content's pooled features, per backbone

Revision ID: 0014_embeddings
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_embeddings"
down_revision = "0014_walk_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("backbone", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("backbone", "content_hash"),
    )


def downgrade() -> None:
    op.drop_table("embeddings")
