"""Itemised bill requests: who asked for an itemised bill of which statement, when, in which language

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('itemised_bill_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("requested_by IN ('patient', 'guest', 'staff')", name=op.f('ck_itemised_bill_requests_requested_by_known')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_itemised_bill_requests_statement_id_statements')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_itemised_bill_requests_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_itemised_bill_requests'))
    )
    with op.batch_alter_table('itemised_bill_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_itemised_bill_requests_statement_id'), ['statement_id'], unique=False)


def downgrade():
    with op.batch_alter_table('itemised_bill_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_itemised_bill_requests_statement_id'))
    op.drop_table('itemised_bill_requests')
