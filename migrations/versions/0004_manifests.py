"""manifests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:10:39.440804
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('transfer_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('originator_id', sa.Integer(), nullable=False),
    sa.Column('receiver_id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('waste_codes', sa.JSON(), nullable=False),
    sa.Column('cap_g', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('authority', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['originator_id'], ['unit.id'], name=op.f('fk_transfer_approval_originator_id_unit')),
    sa.ForeignKeyConstraint(['receiver_id'], ['unit.id'], name=op.f('fk_transfer_approval_receiver_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_approval')),
    sa.UniqueConstraint('number', name=op.f('uq_transfer_approval_number'))
    )
    with op.batch_alter_table('transfer_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_approval_originator_id'), ['originator_id'], unique=False)

    op.create_table('manifest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('hazardous', sa.Boolean(), nullable=False),
    sa.Column('originator_id', sa.Integer(), nullable=False),
    sa.Column('hauler_id', sa.Integer(), nullable=False),
    sa.Column('receiver_id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=True),
    sa.Column('driver_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('planned_date', sa.Date(), nullable=False),
    sa.Column('approval_id', sa.Integer(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('remarks', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('picked_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('receipt_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approval_id'], ['transfer_approval.id'], name=op.f('fk_manifest_approval_id_transfer_approval')),
    sa.ForeignKeyConstraint(['driver_id'], ['app_user.id'], name=op.f('fk_manifest_driver_id_app_user')),
    sa.ForeignKeyConstraint(['hauler_id'], ['unit.id'], name=op.f('fk_manifest_hauler_id_unit')),
    sa.ForeignKeyConstraint(['originator_id'], ['unit.id'], name=op.f('fk_manifest_originator_id_unit')),
    sa.ForeignKeyConstraint(['receiver_id'], ['unit.id'], name=op.f('fk_manifest_receiver_id_unit')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicle.id'], name=op.f('fk_manifest_vehicle_id_vehicle')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest')),
    sa.UniqueConstraint('number', name=op.f('uq_manifest_number'))
    )
    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_hauler_id'), ['hauler_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_originator_id'), ['originator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_receipt_deadline'), ['receipt_deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_receiver_id'), ['receiver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_status'), ['status'], unique=False)

    op.create_table('manifest_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_manifest_event_manifest_id_manifest')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest_event'))
    )
    with op.batch_alter_table('manifest_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_event_manifest_id'), ['manifest_id'], unique=False)

    op.create_table('manifest_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('waste_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('mass_g', sa.BigInteger(), nullable=False),
    sa.Column('planned_method', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('received_g', sa.BigInteger(), nullable=True),
    sa.Column('accepted_g', sa.BigInteger(), nullable=True),
    sa.Column('acceptance', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('holding_id', sa.Integer(), nullable=True),
    sa.Column('returned_g', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], name=op.f('fk_manifest_line_batch_id_batch')),
    sa.ForeignKeyConstraint(['holding_id'], ['batch.id'], name=op.f('fk_manifest_line_holding_id_batch')),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_manifest_line_manifest_id_manifest')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest_line')),
    sa.UniqueConstraint('manifest_id', 'batch_id', name=op.f('uq_manifest_line_manifest_id_batch_id')),
    sa.UniqueConstraint('manifest_id', 'line_no', name=op.f('uq_manifest_line_manifest_id_line_no'))
    )
    with op.batch_alter_table('manifest_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_line_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_line_manifest_id'), ['manifest_id'], unique=False)

    op.create_table('revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('proposed_by_unit', sa.Integer(), nullable=False),
    sa.Column('proposed_by_user', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('original', sa.JSON(), nullable=False),
    sa.Column('approvals', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_revision_manifest_id_manifest')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision'))
    )
    with op.batch_alter_table('revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_manifest_id'), ['manifest_id'], unique=False)

    op.create_table('track_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_track_point_manifest_id_manifest')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_track_point'))
    )
    with op.batch_alter_table('track_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_track_point_manifest_id'), ['manifest_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('track_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_track_point_manifest_id'))

    op.drop_table('track_point')
    with op.batch_alter_table('revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_manifest_id'))

    op.drop_table('revision')
    with op.batch_alter_table('manifest_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_line_manifest_id'))
        batch_op.drop_index(batch_op.f('ix_manifest_line_batch_id'))

    op.drop_table('manifest_line')
    with op.batch_alter_table('manifest_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_event_manifest_id'))

    op.drop_table('manifest_event')
    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_status'))
        batch_op.drop_index(batch_op.f('ix_manifest_receiver_id'))
        batch_op.drop_index(batch_op.f('ix_manifest_receipt_deadline'))
        batch_op.drop_index(batch_op.f('ix_manifest_originator_id'))
        batch_op.drop_index(batch_op.f('ix_manifest_hauler_id'))

    op.drop_table('manifest')
    with op.batch_alter_table('transfer_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_approval_originator_id'))

    op.drop_table('transfer_approval')

