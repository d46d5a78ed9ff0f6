"""receipt and processing: continuous generation points, period totals, line flags and refused mass

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('facility') as b:
        b.add_column(sa.Column('continuous', sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column('daily_capacity_g', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('batch') as b:
        b.add_column(sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False,
                               server_default='container'))
    with op.batch_alter_table('manifest_line') as b:
        b.add_column(sa.Column('refused_g', sa.BigInteger(), nullable=True))
        b.add_column(sa.Column('flags', sa.JSON(), nullable=False, server_default='[]'))
    op.execute("UPDATE manifest_line SET refused_g = received_g - COALESCE(accepted_g, 0) "
               "WHERE received_g IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('manifest_line') as b:
        b.drop_column('flags')
        b.drop_column('refused_g')
    with op.batch_alter_table('batch') as b:
        b.drop_column('period')
    with op.batch_alter_table('facility') as b:
        b.drop_column('daily_capacity_g')
        b.drop_column('continuous')
