"""hardening: login rate limits (throttle) and park-membership requests

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('throttle',
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_throttle'))
    )
    op.create_table('park_member_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('park_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['park_member.id'], name=op.f('fk_park_member_request_member_id_park_member')),
    sa.ForeignKeyConstraint(['park_id'], ['park.id'], name=op.f('fk_park_member_request_park_id_park')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_park_member_request_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_park_member_request'))
    )
    with op.batch_alter_table('park_member_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_park_member_request_park_id'), ['park_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_park_member_request_unit_id'), ['unit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('park_member_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_park_member_request_unit_id'))
        batch_op.drop_index(batch_op.f('ix_park_member_request_park_id'))

    op.drop_table('park_member_request')
    op.drop_table('throttle')
