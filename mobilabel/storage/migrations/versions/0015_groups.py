"""answer groups: an answer given once for a group of near-duplicates notes the group on each member's row

Revision ID: 0015_groups
Revises: 0014_embeddings
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_groups"
down_revision = "0014_embeddings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("answer_group", sa.String(length=32), nullable=True))
    with op.batch_alter_table("answer_history") as batch:
        batch.add_column(sa.Column("answer_group", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answer_history") as batch:
        batch.drop_column("answer_group")
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("answer_group")
