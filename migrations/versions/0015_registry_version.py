"""registry version stamp: explicit invalidation of the per-process registry cache

Revision ID: 0015
Revises: 0008
Create Date: 2026-11-30 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registry_version',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('stamp', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_version')))
    op.execute("INSERT INTO registry_version (id, stamp) VALUES (1, 1)")


def downgrade() -> None:
    op.drop_table('registry_version')
