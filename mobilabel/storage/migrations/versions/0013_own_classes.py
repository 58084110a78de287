"""the user's own classes, answers with their reviewer and history, review leases, answers each version trained on, runs on answers alone

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_PATH = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")  # as storage.pathcodec.StoredPath


def upgrade() -> None:
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_classes_name"),
    )
    op.create_table(
        "answer_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=True),
        sa.Column("image_path", _PATH, nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=True),
        sa.Column("audit", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_answer_history_content_hash", "answer_history", ["content_hash"], unique=False)
    op.create_table(
        "trained_answers",
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "content_hash"),
    )
    op.create_table(
        "review_leases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("image_path", _PATH, nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=True),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("leased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("image_path", name="uq_review_leases_image_path"),
    )
    op.create_index("ix_review_leases_content_hash", "review_leases", ["content_hash"], unique=False)
    # batch mode: SQLite cannot alter a table in place; the server default fills rows already there.
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("reviewer", sa.Text(), nullable=True))
        batch.add_column(sa.Column("audit", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("training_runs") as batch:
        batch.alter_column("data_dir", existing_type=_PATH, nullable=True)
    # The labels already verified become classes, so that answering them again needs no --new-class.
    op.execute(
        "INSERT INTO classes (name, created_at) SELECT label, MIN(created_at) FROM corrections "
        "WHERE label NOT IN ('other', 'skip') GROUP BY label"
    )


def downgrade() -> None:
    op.execute("DELETE FROM training_runs WHERE data_dir IS NULL")
    with op.batch_alter_table("training_runs") as batch:
        batch.alter_column("data_dir", existing_type=_PATH, nullable=False)
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("audit")
        batch.drop_column("reviewer")
    op.drop_index("ix_review_leases_content_hash", table_name="review_leases")
    op.drop_table("review_leases")
    op.drop_table("trained_answers")
    op.drop_index("ix_answer_history_content_hash", table_name="answer_history")
    op.drop_table("answer_history")
    op.drop_table("classes")
