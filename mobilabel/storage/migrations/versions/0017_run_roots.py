"""the allowed roots of the process that created a training run (issue 22), as jobs keep theirs (0014_walk_counts)

Revision ID: 0017_run_roots
Revises: 0017_oof_home
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_run_roots"
down_revision = "0017_oof_home"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter a table in place. Nullable: runs already there have none (only the worker's own apply).
    with op.batch_alter_table("training_runs") as batch:
        batch.add_column(sa.Column("allowed_roots", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("allowed_roots")
