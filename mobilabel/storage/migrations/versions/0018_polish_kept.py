"""corrections.kept_against: the model label a reviewer kept the answer against in the likely mistakes list, so
the answer is not offered there again until it or the model's label of it changes (issue 29)

Revision ID: 0018_polish_kept
Revises: 0018_polish_answer_p
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_polish_kept"
down_revision = "0018_polish_answer_p"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: no answer was kept before. batch: SQLite rebuilds the table.
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("kept_against", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("kept_against")
