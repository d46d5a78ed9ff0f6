"""journal records by facility: the facility card reads a storage room's latest movements

Without it PostgreSQL walks the primary key backwards and filters: 189 ms for a room without movements at 10^6
records (bench/reads.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 14:00:00
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_journal_record_facility', 'journal_record', ['facility_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_journal_record_facility', table_name='journal_record')
