"""small producers and the market: collectors, consents, pickup orders, lot sources, the unit inbox, zero
reports, the trading hall (posts, photos, offers); unit role collector and site location

Revision ID: 0011
Revises: 0005 (the lead re-chains it at merge)
Create Date: 2026-11-30 09:28:37
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('collector_id', sa.Integer(), nullable=False),
    sa.Column('waste_codes', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('granted_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.Column('revoked_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('revoke_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.ForeignKeyConstraint(['collector_id'], ['unit.id'], name=op.f('fk_consent_collector_id_unit')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_consent_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent'))
    )
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_collector_id'), ['collector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('uq_consent_live', ['unit_id', 'collector_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('inbox_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('needs_action', sa.Boolean(), nullable=False),
    sa.Column('subject_type', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_inbox_item_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_item'))
    )
    with op.batch_alter_table('inbox_item', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_item_subject', ['subject_type', 'subject_id'], unique=False)
        batch_op.create_index('ix_inbox_item_unit_open', ['unit_id', 'resolved_at', 'id'], unique=False)

    op.create_table('market_post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('waste_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('hazardous', sa.Boolean(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('monthly_g', sa.BigInteger(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deal_offer_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_market_post_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_post'))
    )
    with op.batch_alter_table('market_post', schema=None) as batch_op:
        batch_op.create_index('ix_market_post_open', ['status', 'waste_code', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_market_post_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_market_post_unit_id'), ['unit_id'], unique=False)

    op.create_table('zero_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_by', sa.Integer(), nullable=True),
    sa.Column('filed_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_zero_report_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zero_report')),
    sa.UniqueConstraint('unit_id', 'day', name=op.f('uq_zero_report_unit_id_day'))
    )
    with op.batch_alter_table('zero_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zero_report_unit_id'), ['unit_id'], unique=False)

    op.create_table('market_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('fee_yuan_per_t', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('manifest_id', sa.Integer(), nullable=True),
    sa.Column('pickup_order_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['market_post.id'], name=op.f('fk_market_offer_post_id_market_post')),
    sa.ForeignKeyConstraint(['producer_id'], ['unit.id'], name=op.f('fk_market_offer_producer_id_unit')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_market_offer_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_offer'))
    )
    with op.batch_alter_table('market_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_market_offer_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_market_offer_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('uq_market_offer_open', ['post_id', 'unit_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('market_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['market_post.id'], name=op.f('fk_market_photo_post_id_market_post')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_market_photo_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_photo'))
    )
    with op.batch_alter_table('market_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_market_photo_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_market_photo_unit_id'), ['unit_id'], unique=False)

    op.create_table('lot_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=False),
    sa.Column('mass_g', sa.BigInteger(), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['batch.id'], name=op.f('fk_lot_source_lot_id_batch')),
    sa.ForeignKeyConstraint(['producer_id'], ['unit.id'], name=op.f('fk_lot_source_producer_id_unit')),
    sa.ForeignKeyConstraint(['root_id'], ['batch.id'], name=op.f('fk_lot_source_root_id_batch')),
    sa.ForeignKeyConstraint(['source_id'], ['batch.id'], name=op.f('fk_lot_source_source_id_batch')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_lot_source_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_source')),
    sa.UniqueConstraint('lot_id', 'source_id', name=op.f('uq_lot_source_lot_id_source_id'))
    )
    with op.batch_alter_table('lot_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_source_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_source_producer_id'), ['producer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_source_root_id'), ['root_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_source_source_id'), ['source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_source_unit_id'), ['unit_id'], unique=False)

    op.create_table('pickup_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('collector_id', sa.Integer(), nullable=True),
    sa.Column('open_to_all', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('raised_by_unit', sa.Integer(), nullable=False),
    sa.Column('raised_by_user', sa.Integer(), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('contact', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('window_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('generation_facility_id', sa.Integer(), nullable=True),
    sa.Column('hauler_id', sa.Integer(), nullable=True),
    sa.Column('vehicle_id', sa.Integer(), nullable=True),
    sa.Column('driver_id', sa.Integer(), nullable=True),
    sa.Column('pickup_date', sa.Date(), nullable=True),
    sa.Column('weighed_on', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.Column('confirmed_via', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('confirm_failures', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('weighed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['collector_id'], ['unit.id'], name=op.f('fk_pickup_order_collector_id_unit')),
    sa.ForeignKeyConstraint(['consent_id'], ['consent.id'], name=op.f('fk_pickup_order_consent_id_consent')),
    sa.ForeignKeyConstraint(['driver_id'], ['app_user.id'], name=op.f('fk_pickup_order_driver_id_app_user')),
    sa.ForeignKeyConstraint(['generation_facility_id'], ['facility.id'], name=op.f('fk_pickup_order_generation_facility_id_facility')),
    sa.ForeignKeyConstraint(['hauler_id'], ['unit.id'], name=op.f('fk_pickup_order_hauler_id_unit')),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_pickup_order_manifest_id_manifest')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_pickup_order_unit_id_unit')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicle.id'], name=op.f('fk_pickup_order_vehicle_id_vehicle')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_order')),
    sa.UniqueConstraint('number', name=op.f('uq_pickup_order_number'))
    )
    with op.batch_alter_table('pickup_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pickup_order_collector_id'), ['collector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pickup_order_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pickup_order_unit_id'), ['unit_id'], unique=False)

    op.create_table('pickup_order_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('acting_unit_id', sa.Integer(), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['pickup_order.id'], name=op.f('fk_pickup_order_event_order_id_pickup_order')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_pickup_order_event_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_order_event'))
    )
    with op.batch_alter_table('pickup_order_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pickup_order_event_order_id'), ['order_id'], unique=False)

    op.create_table('pickup_order_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('waste_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('estimated_g', sa.BigInteger(), nullable=False),
    sa.Column('planned_method', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('batch_ids', sa.JSON(), nullable=False),
    sa.Column('weighed_g', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['pickup_order.id'], name=op.f('fk_pickup_order_line_order_id_pickup_order')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_pickup_order_line_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_order_line')),
    sa.UniqueConstraint('order_id', 'line_no', name=op.f('uq_pickup_order_line_order_id_line_no'))
    )
    with op.batch_alter_table('pickup_order_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pickup_order_line_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_collector', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
        batch_op.drop_column('is_collector')

    with op.batch_alter_table('pickup_order_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pickup_order_line_order_id'))

    op.drop_table('pickup_order_line')
    with op.batch_alter_table('pickup_order_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pickup_order_event_order_id'))

    op.drop_table('pickup_order_event')
    with op.batch_alter_table('pickup_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pickup_order_unit_id'))
        batch_op.drop_index(batch_op.f('ix_pickup_order_status'))
        batch_op.drop_index(batch_op.f('ix_pickup_order_collector_id'))

    op.drop_table('pickup_order')
    with op.batch_alter_table('lot_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_source_unit_id'))
        batch_op.drop_index(batch_op.f('ix_lot_source_source_id'))
        batch_op.drop_index(batch_op.f('ix_lot_source_root_id'))
        batch_op.drop_index(batch_op.f('ix_lot_source_producer_id'))
        batch_op.drop_index(batch_op.f('ix_lot_source_lot_id'))

    op.drop_table('lot_source')
    with op.batch_alter_table('market_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_market_photo_unit_id'))
        batch_op.drop_index(batch_op.f('ix_market_photo_post_id'))

    op.drop_table('market_photo')
    with op.batch_alter_table('market_offer', schema=None) as batch_op:
        batch_op.drop_index('uq_market_offer_open', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_market_offer_unit_id'))
        batch_op.drop_index(batch_op.f('ix_market_offer_post_id'))

    op.drop_table('market_offer')
    with op.batch_alter_table('zero_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zero_report_unit_id'))

    op.drop_table('zero_report')
    with op.batch_alter_table('market_post', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_market_post_unit_id'))
        batch_op.drop_index(batch_op.f('ix_market_post_region_code'))
        batch_op.drop_index('ix_market_post_open')

    op.drop_table('market_post')
    with op.batch_alter_table('inbox_item', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_item_unit_open')
        batch_op.drop_index('ix_inbox_item_subject')

    op.drop_table('inbox_item')
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index('uq_consent_live', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_consent_unit_id'))
        batch_op.drop_index(batch_op.f('ix_consent_collector_id'))

    op.drop_table('consent')
