"""out-of-fold labels of the answers a version was trained on

Revision ID: 0014_out_of_fold
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_out_of_fold"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trained_answers") as batch:
        batch.add_column(sa.Column("out_of_fold", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trained_answers") as batch:
        batch.drop_column("out_of_fold")
