"""Disputed charges and the balance adjustments the billing office posts in the portal; "dispute" questions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_TOPICS = "topic IN ('charges', 'insurance', 'payment_plan', 'financial_assistance', 'refund', 'other')"
NEW_TOPICS = ("topic IN ('charges', 'insurance', 'payment_plan', 'financial_assistance', 'refund', 'other',"
              " 'dispute')")


def upgrade():
    op.create_table('balance_adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_balance_adjustments_amount_positive')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_balance_adjustments_currency_iso')),
    sa.CheckConstraint("reason IN ('dispute_correction', 'financial_assistance')",
                       name=op.f('ck_balance_adjustments_reason_known')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'],
                            name=op.f('fk_balance_adjustments_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['line_item_id'], ['line_items.id'],
                            name=op.f('fk_balance_adjustments_line_item_id_line_items')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'],
                            name=op.f('fk_balance_adjustments_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_balance_adjustments')),
    sa.UniqueConstraint('public_id', name=op.f('uq_balance_adjustments_public_id'))
    )
    op.create_index(op.f('ix_balance_adjustments_statement_id'), 'balance_adjustments', ['statement_id'])
    op.create_index(op.f('ix_balance_adjustments_created_at'), 'balance_adjustments', ['created_at'])

    op.create_table('line_disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_user_id', sa.Integer(), nullable=True),
    sa.Column('adjustment_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("reason IN ('not_received', 'charged_twice', 'insurance_should_pay', 'differs_from_estimate',"
                       " 'other')", name=op.f('ck_line_disputes_reason_known')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('corrected', 'explained', 'sent_to_insurance')",
                       name=op.f('ck_line_disputes_outcome_known')),
    sa.CheckConstraint('(outcome IS NULL) = (resolved_at IS NULL)', name=op.f('ck_line_disputes_resolved_with_outcome')),
    sa.CheckConstraint("adjustment_id IS NULL OR outcome = 'corrected'",
                       name=op.f('ck_line_disputes_adjusted_only_if_corrected')),
    sa.ForeignKeyConstraint(['adjustment_id'], ['balance_adjustments.id'],
                            name=op.f('fk_line_disputes_adjustment_id_balance_adjustments')),
    sa.ForeignKeyConstraint(['line_item_id'], ['line_items.id'], name=op.f('fk_line_disputes_line_item_id_line_items')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_line_disputes_question_id_questions')),
    sa.ForeignKeyConstraint(['resolved_by_user_id'], ['users.id'],
                            name=op.f('fk_line_disputes_resolved_by_user_id_users')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_line_disputes_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_disputes')),
    sa.UniqueConstraint('adjustment_id', name=op.f('uq_line_disputes_adjustment_id')),
    sa.UniqueConstraint('question_id', name=op.f('uq_line_disputes_question_id'))
    )
    op.create_index(op.f('ix_line_disputes_statement_id'), 'line_disputes', ['statement_id'])
    op.create_index('uq_line_disputes_open_line', 'line_disputes', ['line_item_id'], unique=True,
                    sqlite_where=sa.text('outcome IS NULL'), postgresql_where=sa.text('outcome IS NULL'))

    with op.batch_alter_table('questions') as batch_op:
        batch_op.drop_constraint(op.f('ck_questions_topic_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_questions_topic_known'), NEW_TOPICS)


def downgrade():
    # Dispute questions cannot stay under the old rule: they become general questions.
    op.execute("UPDATE questions SET topic = 'other' WHERE topic = 'dispute'")
    with op.batch_alter_table('questions') as batch_op:
        batch_op.drop_constraint(op.f('ck_questions_topic_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_questions_topic_known'), OLD_TOPICS)
    op.drop_index('uq_line_disputes_open_line', table_name='line_disputes')
    op.drop_index(op.f('ix_line_disputes_statement_id'), table_name='line_disputes')
    op.drop_table('line_disputes')
    op.drop_index(op.f('ix_balance_adjustments_created_at'), table_name='balance_adjustments')
    op.drop_index(op.f('ix_balance_adjustments_statement_id'), table_name='balance_adjustments')
    op.drop_table('balance_adjustments')
