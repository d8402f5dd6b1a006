"""Payment plans: the plans, the statements each covers, their charges, and the card payments those charges made

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day_of_month', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('stripe_payment_method_id', sa.String(length=255), nullable=True),
    sa.Column('card_brand', sa.String(length=20), nullable=True),
    sa.Column('card_last4', sa.String(length=4), nullable=True),
    sa.Column('autopay_cap', sa.Integer(), nullable=True),
    sa.Column('autopay_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by_user_id', sa.Integer(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('awaiting_card', 'active', 'completed', 'broken', 'cancelled')", name=op.f('ck_payment_plans_status_known')),
    sa.CheckConstraint('autopay_cap IS NULL OR autopay_cap > 0', name=op.f('ck_payment_plans_autopay_cap_positive')),
    sa.CheckConstraint('day_of_month BETWEEN 1 AND 28', name=op.f('ck_payment_plans_day_of_month_in_every_month')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_payment_plans_account_id_accounts')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_payment_plans_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['ended_by_user_id'], ['users.id'], name=op.f('fk_payment_plans_ended_by_user_id_users')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_payment_plans_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_plans')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payment_plans_public_id'))
    )
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_plans_account_id'), ['account_id'], unique=False)
        batch_op.create_index('uq_payment_plans_open_account', ['account_id'], unique=True, sqlite_where=sa.text("status IN ('awaiting_card', 'active')"), postgresql_where=sa.text("status IN ('awaiting_card', 'active')"))

    op.create_table('payment_plan_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('next_attempt_on', sa.Date(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('refusals', sa.Integer(), nullable=False),
    sa.Column('notice_sent_for', sa.Date(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('instalment', 'autopay')", name=op.f('ck_payment_plan_charges_kind_known')),
    sa.CheckConstraint("status IN ('scheduled', 'charging', 'failed', 'paid', 'missed', 'skipped', 'cancelled', 'replaced')", name=op.f('ck_payment_plan_charges_status_known')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payment_plan_charges_amount_positive')),
    sa.CheckConstraint('attempts >= 0 AND refusals >= 0', name=op.f('ck_payment_plan_charges_attempts_not_negative')),
    sa.ForeignKeyConstraint(['plan_id'], ['payment_plans.id'], name=op.f('fk_payment_plan_charges_plan_id_payment_plans')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_payment_plan_charges_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_plan_charges')),
    sa.UniqueConstraint('public_id', name=op.f('uq_payment_plan_charges_public_id'))
    )
    with op.batch_alter_table('payment_plan_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_plan_charges_next_attempt_on'), ['next_attempt_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_plan_charges_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index('uq_payment_plan_charges_autopay_statement', ['plan_id', 'statement_id'], unique=True, sqlite_where=sa.text("kind = 'autopay'"), postgresql_where=sa.text("kind = 'autopay'"))

    op.create_table('payment_plan_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payment_plan_statements_amount_positive')),
    sa.ForeignKeyConstraint(['plan_id'], ['payment_plans.id'], name=op.f('fk_payment_plan_statements_plan_id_payment_plans')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_payment_plan_statements_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_plan_statements')),
    sa.UniqueConstraint('plan_id', 'statement_id', name='uq_payment_plan_statements_plan_statement')
    )
    with op.batch_alter_table('payment_plan_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_plan_statements_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_plan_statements_statement_id'), ['statement_id'], unique=False)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_charge_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_payments_plan_charge_id'), ['plan_charge_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_payments_plan_charge_id_payment_plan_charges'), 'payment_plan_charges', ['plan_charge_id'], ['id'])



def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payments_plan_charge_id_payment_plan_charges'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_payments_plan_charge_id'))
        batch_op.drop_column('plan_charge_id')

    with op.batch_alter_table('payment_plan_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_plan_statements_statement_id'))
        batch_op.drop_index(batch_op.f('ix_payment_plan_statements_plan_id'))

    op.drop_table('payment_plan_statements')
    with op.batch_alter_table('payment_plan_charges', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_plan_charges_autopay_statement')
        batch_op.drop_index(batch_op.f('ix_payment_plan_charges_plan_id'))
        batch_op.drop_index(batch_op.f('ix_payment_plan_charges_next_attempt_on'))

    op.drop_table('payment_plan_charges')
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_plans_open_account', sqlite_where=sa.text("status IN ('awaiting_card', 'active')"), postgresql_where=sa.text("status IN ('awaiting_card', 'active')"))
        batch_op.drop_index(batch_op.f('ix_payment_plans_account_id'))

    op.drop_table('payment_plans')
