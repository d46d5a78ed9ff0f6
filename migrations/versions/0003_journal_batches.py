"""journal and batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:07:35.296879
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('journal_head',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('unit_id')
    )
    op.create_table('batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('holder_unit_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.Column('digital_id', sqlmodel.sql.sqltypes.AutoString(length=38), nullable=False),
    sa.Column('batch_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('waste_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('hazardous', sa.Boolean(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('hazard', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('components', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('container_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('container_count', sa.Integer(), nullable=False),
    sa.Column('container_volume_l', sa.Float(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('scale_id', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('operator', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('gross_g', sa.BigInteger(), nullable=False),
    sa.Column('tare_g', sa.BigInteger(), nullable=False),
    sa.Column('net_g', sa.BigInteger(), nullable=False),
    sa.Column('remaining_g', sa.BigInteger(), nullable=False),
    sa.Column('stored_g', sa.BigInteger(), nullable=False),
    sa.Column('in_transit_g', sa.BigInteger(), nullable=False),
    sa.Column('storage_facility_id', sa.Integer(), nullable=True),
    sa.Column('stored_ever', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['holder_unit_id'], ['unit.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['root_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['storage_facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_digital_id'), ['digital_id'], unique=False)
        batch_op.create_index('ix_batch_holder_status', ['holder_unit_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_root_id'), ['root_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_storage_facility_id'), ['storage_facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_waste_code'), ['waste_code'], unique=False)
        batch_op.create_index('uq_batch_digital_id_root', ['digital_id'], unique=True, sqlite_where=sa.text('parent_id IS NULL'), postgresql_where=sa.text('parent_id IS NULL'))

    op.create_table('journal_record',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('source_batch_id', sa.Integer(), nullable=True),
    sa.Column('mass_g', sa.BigInteger(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('manifest_id', sa.Integer(), nullable=True),
    sa.Column('record_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['source_batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id', 'seq')
    )
    with op.batch_alter_table('journal_record', schema=None) as batch_op:
        batch_op.create_index('ix_journal_record_batch', ['batch_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_record_record_code'), ['record_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_record_source_batch_id'), ['source_batch_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('journal_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_record_source_batch_id'))
        batch_op.drop_index(batch_op.f('ix_journal_record_record_code'))
        batch_op.drop_index('ix_journal_record_batch')

    op.drop_table('journal_record')
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_index('uq_batch_digital_id_root', sqlite_where=sa.text('parent_id IS NULL'), postgresql_where=sa.text('parent_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_batch_waste_code'))
        batch_op.drop_index(batch_op.f('ix_batch_unit_id'))
        batch_op.drop_index(batch_op.f('ix_batch_storage_facility_id'))
        batch_op.drop_index(batch_op.f('ix_batch_root_id'))
        batch_op.drop_index(batch_op.f('ix_batch_parent_id'))
        batch_op.drop_index(batch_op.f('ix_batch_occurred_at'))
        batch_op.drop_index('ix_batch_holder_status')
        batch_op.drop_index(batch_op.f('ix_batch_digital_id'))

    op.drop_table('batch')
    op.drop_table('journal_head')

