"""Good faith estimates: what a self-pay patient was told a visit would cost, one per visit

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 20:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('good_faith_estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_good_faith_estimates_amount_not_negative')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_good_faith_estimates_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_good_faith_estimates')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_good_faith_estimates_visit_id'))
    )


def downgrade():
    op.drop_table('good_faith_estimates')
