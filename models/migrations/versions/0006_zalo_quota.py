"""the Zalo OA's daily quota as last read from Zalo's answers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('zalo_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quota_daily', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quota_remaining', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quota_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('zalo_token', schema=None) as batch_op:
        batch_op.drop_column('quota_at')
        batch_op.drop_column('quota_remaining')
        batch_op.drop_column('quota_daily')
