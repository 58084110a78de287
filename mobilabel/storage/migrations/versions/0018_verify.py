"""the check sample (issue 28): corrections.is_check marks an answer to a check lease (a uniform draw of the set
`accept` would take, held out of everything else); check_requests holds what `accept` asks the queue for

Revision ID: 0018_verify
Revises: 0017_run_roots
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_verify"
down_revision = "0017_run_roots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter a table in place. Answers given before were never check answers.
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("is_check", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "check_requests",
        sa.Column("version_id", sa.String(64), sa.ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("precision", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("wanted", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("check_requests")
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("is_check")
