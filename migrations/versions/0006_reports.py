"""reports: period balances, declarations, source documents

Revision ID: 0006
Revises: 0012
Create Date: 2026-11-30 09:21:43.166276
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('period_balance',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('waste_code', sa.String(length=12), nullable=False),
    sa.Column('counterparty_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('origin', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False),
    sa.Column('generated_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('stored_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('retrieved_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('used_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('used_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('disposed_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('disposed_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_util_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_disp_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_util_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_disp_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('received_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('refused_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('transit_diff_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_util_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_disp_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_returned_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_returned_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('unit_id', 'month', 'facility_id', 'waste_code', 'counterparty_id', 'method', 'origin', name='pk_period_balance')
    )
    with op.batch_alter_table('period_balance', schema=None) as batch_op:
        batch_op.create_index('ix_period_balance_counterparty', ['counterparty_id', 'month'], unique=False, postgresql_where=sa.text('counterparty_id <> 0'), sqlite_where=sa.text('counterparty_id <> 0'))

    op.create_table('period_balance_year',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('waste_code', sa.String(length=12), nullable=False),
    sa.Column('counterparty_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.SmallInteger(), nullable=False),
    sa.Column('generated_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('stored_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('retrieved_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('used_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('used_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('disposed_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('disposed_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_util_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_disp_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_util_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('returned_disp_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('received_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('refused_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('transit_diff_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_util_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('proc_disp_prior_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_returned_util_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fwd_returned_disp_g', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('unit_id', 'year', 'waste_code', 'counterparty_id', 'origin', name='pk_period_balance_year')
    )
    op.create_table('declaration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('tier', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('annotations', sa.JSON(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['replaces_id'], ['declaration.id'], name=op.f('fk_declaration_replaces_id_declaration')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_declaration_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration')),
    sa.UniqueConstraint('unit_id', 'kind', 'period_start', 'version', name=op.f('uq_declaration_unit_id_kind_period_start_version'))
    )
    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.create_index('ix_declaration_due', ['status', 'due_on'], unique=False)
        batch_op.create_index('ix_declaration_unit_period', ['unit_id', 'kind', 'period_start'], unique=False)

    op.create_table('source_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_source_document_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_document')),
    sa.UniqueConstraint('unit_id', 'kind', 'sha256', name=op.f('uq_source_document_unit_id_kind_sha256'))
    )
    with op.batch_alter_table('source_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_document_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('journal_record', schema=None) as batch_op:
        batch_op.create_index('ix_journal_record_unit_time', ['unit_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_journal_record_corrections', ['unit_id'], unique=False,
                              postgresql_where=sa.text("kind = 'corrected'"), sqlite_where=sa.text("kind = 'corrected'"))
        batch_op.create_index('ix_journal_record_receipts', ['occurred_at'], unique=False,
                              postgresql_where=sa.text("kind = 'received'"), sqlite_where=sa.text("kind = 'received'"))

    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.create_index('ix_batch_held', ['holder_unit_id'], unique=False,
                              postgresql_where=sa.text('remaining_g <> 0'), sqlite_where=sa.text('remaining_g <> 0'),
                              postgresql_include=['remaining_g', 'parent_id', 'hazardous', 'waste_code'])

    # A database that already has a journal gets its balances computed from it (set-based, one statement).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM journal_record LIMIT 1")).first() is not None:
        from sqlmodel import Session

        from ledger.rollups.rebuild import repair

        with Session(bind=bind, join_transaction_mode="rollback_only") as session:
            repair(session)
            session.flush()


def downgrade() -> None:
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_index('ix_batch_held', postgresql_where=sa.text('remaining_g <> 0'),
                            sqlite_where=sa.text('remaining_g <> 0'))
    with op.batch_alter_table('journal_record', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_record_receipts', postgresql_where=sa.text("kind = 'received'"),
                            sqlite_where=sa.text("kind = 'received'"))
        batch_op.drop_index('ix_journal_record_corrections', postgresql_where=sa.text("kind = 'corrected'"),
                            sqlite_where=sa.text("kind = 'corrected'"))
        batch_op.drop_index('ix_journal_record_unit_time')
    with op.batch_alter_table('source_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_document_unit_id'))

    op.drop_table('source_document')
    with op.batch_alter_table('declaration', schema=None) as batch_op:
        batch_op.drop_index('ix_declaration_unit_period')
        batch_op.drop_index('ix_declaration_due')

    op.drop_table('declaration')
    with op.batch_alter_table('period_balance', schema=None) as batch_op:
        batch_op.drop_index('ix_period_balance_counterparty', postgresql_where=sa.text('counterparty_id <> 0'), sqlite_where=sa.text('counterparty_id <> 0'))

    op.drop_table('period_balance')
    op.drop_table('period_balance_year')
