"""A disputed line may be taken back by the billing system: the dispute stays, about its statement

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 23:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('line_disputes') as batch_op:
        batch_op.alter_column('line_item_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    # A dispute whose line was taken back has nothing to point to under the old rule.
    op.execute("DELETE FROM line_disputes WHERE line_item_id IS NULL")
    with op.batch_alter_table('line_disputes') as batch_op:
        batch_op.alter_column('line_item_id', existing_type=sa.Integer(), nullable=False)
