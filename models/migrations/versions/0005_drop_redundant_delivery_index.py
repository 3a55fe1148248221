"""drop the delivery table's assignment index: uq_delivery_step starts with assignment_id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:10:00
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every lookup by assignment uses the unique constraint's index (its first column); the
    # second index only cost time on each of the tens of thousands of rows a tick enqueues.
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_assignment_id'))


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_assignment_id'), ['assignment_id'], unique=False)
