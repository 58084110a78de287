"""held_out_predictions.answer_label and answer_confidence: the answer an out-of-fold fit was measured against
and the calibrated probability it gave that label, so likely mistakes rank answers by a model that did not
train on them (issue 29)

Revision ID: 0018_polish_answer_p
Revises: 0018_verify
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_polish_answer_p"
down_revision = "0018_verify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows already there were written without it; likely mistakes judge those answers by the
    # embeddings' own out-of-fold head until the next fit writes it. batch: SQLite rebuilds the table.
    with op.batch_alter_table("held_out_predictions") as batch:
        batch.add_column(sa.Column("answer_label", sa.Text(), nullable=True))
        batch.add_column(sa.Column("answer_confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("held_out_predictions") as batch:
        batch.drop_column("answer_confidence")
        batch.drop_column("answer_label")
