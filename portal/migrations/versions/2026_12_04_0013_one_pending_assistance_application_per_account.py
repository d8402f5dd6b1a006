"""One financial assistance application being decided per account, kept by the database (a double click)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 00:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('uq_assistance_applications_pending_account', 'assistance_applications', ['account_id'],
                    unique=True, sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    op.drop_index('uq_assistance_applications_pending_account', table_name='assistance_applications')
