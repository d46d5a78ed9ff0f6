"""inbox events share the webhook outbox: alert_outbox.alert_id becomes optional, event names get longer

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-30 11:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_outbox') as b:
        b.alter_column('alert_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
        b.alter_column('event', existing_type=sa.String(length=32), type_=sa.String(length=64))


def downgrade() -> None:
    op.execute("DELETE FROM webhook_delivery WHERE outbox_id IN (SELECT id FROM alert_outbox WHERE alert_id IS NULL)")
    op.execute("DELETE FROM alert_outbox WHERE alert_id IS NULL")
    with op.batch_alter_table('alert_outbox') as b:
        b.alter_column('alert_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False)
