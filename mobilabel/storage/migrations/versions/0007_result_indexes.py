"""indexes for the API's result pages: a job's or a label's results by confidence, failed rows, path patterns

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each serves a page in keyset order (sort column, then id) without sorting the whole match.
    op.create_index('ix_results_job_confidence', 'results', ['job_id', 'confidence', 'id'])
    op.create_index('ix_results_label_confidence', 'results', ['label', 'confidence', 'id'])
    op.create_index('ix_results_status_path', 'results', ['status', 'image_path'])
    if op.get_bind().dialect.name == 'postgresql':
        # Path patterns match anywhere in the path (LIKE '%...%'): a trigram index serves them, a B-tree cannot.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index(
            'ix_results_image_path_pattern', 'results', ['image_path'],
            postgresql_using='gin', postgresql_ops={'image_path': 'gin_trgm_ops'},
        )
    else:
        op.create_index('ix_results_image_path_pattern', 'results', [sa.column('image_path')])


def downgrade() -> None:
    op.drop_index('ix_results_image_path_pattern', table_name='results')
    op.drop_index('ix_results_status_path', table_name='results')
    op.drop_index('ix_results_label_confidence', table_name='results')
    op.drop_index('ix_results_job_confidence', table_name='results')
