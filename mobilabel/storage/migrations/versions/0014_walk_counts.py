"""a job's walk counts (entries passed over, by reason) and the allowed roots of the process that created it

Revision ID: 0014_walk_counts
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_walk_counts"
down_revision = "0014_out_of_fold"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter a table in place. Both nullable: jobs already there have neither.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("passed_over", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("allowed_roots", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("allowed_roots")
        batch.drop_column("passed_over")
