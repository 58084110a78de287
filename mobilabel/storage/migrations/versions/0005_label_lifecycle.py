"""label lifecycle: job membership, content hashes, corrections by content, deleted versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from mobilabel.hashing import hash_file

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_images",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("image_path", sa.Text(), nullable=False),
        sa.Column("model_version_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
        ),
        sa.PrimaryKeyConstraint("job_id", "image_path"),
    )
    with op.batch_alter_table("job_images", schema=None) as batch_op:
        batch_op.create_index("ix_job_images_image_version", ["image_path", "model_version_id"], unique=False)
    # What is still known of each job's images: the rows it was the last to write.
    op.execute(
        "INSERT INTO job_images (job_id, image_path, model_version_id, outcome, updated_at) "
        "SELECT job_id, image_path, model_version_id, CASE WHEN status = 'ok' THEN 'labelled' ELSE 'failed' END, updated_at "
        "FROM results WHERE job_id IS NOT NULL"
    )

    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_results_content_hash", ["content_hash"], unique=False)

    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=32), nullable=True))
        batch_op.drop_constraint("uq_corrections_image_path", type_="unique")
    _hash_corrected_files()
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_corrections_content_hash", ["content_hash"])


def _hash_corrected_files() -> None:
    """Key each existing correction to the content of its file; a file gone keeps None (shown stale)."""
    connection = op.get_bind()
    corrections = sa.table(
        "corrections",
        sa.column("id", sa.Integer),
        sa.column("image_path", sa.Text),
        sa.column("content_hash", sa.String),
        sa.column("updated_at", sa.DateTime),
    )
    seen: set[str] = set()
    rows = connection.execute(sa.select(corrections.c.id, corrections.c.image_path).order_by(corrections.c.updated_at.desc()))
    for correction_id, path in rows.all():
        try:
            content_hash = hash_file(path)
        except OSError:
            continue
        if content_hash in seen:  # two paths, one content: the newest correction is kept
            connection.execute(sa.delete(corrections).where(corrections.c.id == correction_id))
            continue
        seen.add(content_hash)
        connection.execute(sa.update(corrections).where(corrections.c.id == correction_id).values(content_hash=content_hash))


def downgrade() -> None:
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.drop_constraint("uq_corrections_content_hash", type_="unique")
        batch_op.drop_column("content_hash")
        batch_op.create_unique_constraint("uq_corrections_image_path", ["image_path"])

    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_index("ix_results_content_hash")
        batch_op.drop_column("content_hash")

    with op.batch_alter_table("job_images", schema=None) as batch_op:
        batch_op.drop_index("ix_job_images_image_version")

    op.drop_table("job_images")
