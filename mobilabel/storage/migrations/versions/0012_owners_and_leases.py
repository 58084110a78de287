"""jobs and training runs record their owner and its heartbeat; leases (the scheduler's, a folder's labelling);
at most one scheduled run per folder is active

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ACTIVE_SCHEDULED = "trigger = 'schedule' AND status IN ('queued', 'running')"


def upgrade() -> None:
    for table in ("jobs", "training_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.Text(), nullable=True))
            batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Runs left active by a scheduler started twice before this revision: keep the newest per folder,
    # so the index below can be built (the older ones had no process behind them or duplicated it).
    op.execute(
        "UPDATE training_runs SET status = 'failed', error = 'superseded by a newer scheduled run on the same folder (upgrade to 0012)' "
        f"WHERE {_ACTIVE_SCHEDULED} AND id NOT IN "
        f"(SELECT max(id) FROM training_runs WHERE {_ACTIVE_SCHEDULED} GROUP BY data_dir)"
    )
    op.create_index(
        "uq_training_runs_one_scheduled",
        "training_runs",
        ["data_dir"],
        unique=True,
        postgresql_where=sa.text(_ACTIVE_SCHEDULED),
        sqlite_where=sa.text(_ACTIVE_SCHEDULED),
    )


def downgrade() -> None:
    op.drop_index("uq_training_runs_one_scheduled", table_name="training_runs")
    op.drop_table("leases")
    for table in ("jobs", "training_runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("heartbeat_at")
            batch.drop_column("owner")
