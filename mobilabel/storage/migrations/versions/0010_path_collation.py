"""stored paths compare byte by byte on PostgreSQL too (collation "C"): a folder's paths are one range of the path index

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Every StoredPath column (storage.pathcodec); all of them, so that comparing two never mixes collations.
_PATH_COLUMNS = {
    "jobs": "root",
    "results": "image_path",
    "job_images": "image_path",
    "corrections": "image_path",
    "training_runs": "data_dir",
}


def upgrade() -> None:
    # An anchored path pattern (storage.result_queries.path_matches) is a range of ix_results_current_path
    # only in byte order: SQLite's already; PostgreSQL's database collation may be a locale's.
    # Changing the collation keeps the rows and rebuilds the indexes on the column.
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _PATH_COLUMNS.items():
            op.alter_column(table, column, type_=sa.Text(collation="C"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _PATH_COLUMNS.items():
            op.alter_column(table, column, type_=sa.Text())
