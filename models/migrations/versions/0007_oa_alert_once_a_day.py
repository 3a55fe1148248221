"""alerts about the Zalo OA (its quota, its account): one a day per address across campaigns

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "assignment_id IS NULL AND step_key LIKE 'oa-alert-%'"


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('uq_delivery_oa_alert', ['step_key', 'channel', 'recipient'], unique=True, sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('uq_delivery_oa_alert', sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
