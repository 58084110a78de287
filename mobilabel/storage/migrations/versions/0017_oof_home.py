"""one home for out-of-fold predictions: held_out_predictions (label and calibrated confidence) replaces
trained_answers.out_of_fold (a label only)

Revision ID: 0017_oof_home
Revises: 0016_accept
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_oof_home"
down_revision = "0016_accept"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Labels stored there carry no confidence, so they cannot become held_out_predictions rows: the next
    # training run writes its out-of-fold predictions there. batch_alter_table: SQLite rebuilds the table.
    with op.batch_alter_table("trained_answers") as batch:
        batch.drop_column("out_of_fold")


def downgrade() -> None:
    with op.batch_alter_table("trained_answers") as batch:
        batch.add_column(sa.Column("out_of_fold", sa.Text(), nullable=True))
