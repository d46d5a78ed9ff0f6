"""Load the bundled hazardous-waste catalogue (2021) and the method list.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

waste_code = sa.table(
    "waste_code",
    sa.column("code", sa.String), sa.column("category", sa.String), sa.column("category_name", sa.String),
    sa.column("industry", sa.String), sa.column("description", sa.String), sa.column("hazard", sa.String),
    sa.column("edition", sa.String),
)
method = sa.table(
    "method",
    sa.column("code", sa.String), sa.column("name", sa.String), sa.column("kind", sa.String),
    sa.column("counts_as_utilisation", sa.Boolean),
)


def upgrade() -> None:
    from ledger.registry.catalogue import bundled_catalogue_rows, bundled_method_rows

    op.bulk_insert(waste_code, bundled_catalogue_rows())
    op.bulk_insert(method, bundled_method_rows())


def downgrade() -> None:
    op.execute(method.delete())
    op.execute(waste_code.delete())
