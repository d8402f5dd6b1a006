"""Financial assistance applications, their proof of income, and the adjustment an approval posts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assistance_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('applied_by_user_id', sa.Integer(), nullable=True),
    sa.Column('household_size', sa.Integer(), nullable=False),
    sa.Column('annual_income', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('guideline_year', sa.Integer(), nullable=False),
    sa.Column('guideline', sa.Integer(), nullable=False),
    sa.Column('poverty_percent', sa.Integer(), nullable=False),
    sa.Column('preliminary_discount', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('adjustment_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'denied')", name=op.f('ck_assistance_applications_status_known')),
    sa.CheckConstraint('household_size BETWEEN 1 AND 20', name=op.f('ck_assistance_applications_household_size_range')),
    sa.CheckConstraint('annual_income >= 0 AND guideline > 0 AND poverty_percent >= 0',
                       name=op.f('ck_assistance_applications_amounts_sane')),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)",
                       name=op.f('ck_assistance_applications_decided_when_not_pending')),
    sa.CheckConstraint("adjustment_id IS NULL OR status = 'approved'",
                       name=op.f('ck_assistance_applications_discount_only_if_approved')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_assistance_applications_account_id_accounts')),
    sa.ForeignKeyConstraint(['adjustment_id'], ['balance_adjustments.id'],
                            name=op.f('fk_assistance_applications_adjustment_id_balance_adjustments')),
    sa.ForeignKeyConstraint(['applied_by_user_id'], ['users.id'],
                            name=op.f('fk_assistance_applications_applied_by_user_id_users')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'],
                            name=op.f('fk_assistance_applications_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_assistance_applications_question_id_questions')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'],
                            name=op.f('fk_assistance_applications_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistance_applications')),
    sa.UniqueConstraint('adjustment_id', name=op.f('uq_assistance_applications_adjustment_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_assistance_applications_public_id')),
    sa.UniqueConstraint('question_id', name=op.f('uq_assistance_applications_question_id'))
    )
    op.create_index(op.f('ix_assistance_applications_account_id'), 'assistance_applications', ['account_id'])
    op.create_index(op.f('ix_assistance_applications_statement_id'), 'assistance_applications', ['statement_id'])
    op.create_index('ix_assistance_applications_open', 'assistance_applications', ['account_id', 'status'])
    op.create_table('assistance_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('pdf', 'jpeg', 'png')", name=op.f('ck_assistance_documents_kind_known')),
    sa.CheckConstraint('size > 0', name=op.f('ck_assistance_documents_size_positive')),
    sa.ForeignKeyConstraint(['application_id'], ['assistance_applications.id'],
                            name=op.f('fk_assistance_documents_application_id_assistance_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistance_documents')),
    sa.UniqueConstraint('public_id', name=op.f('uq_assistance_documents_public_id')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_assistance_documents_stored_name'))
    )
    op.create_index(op.f('ix_assistance_documents_application_id'), 'assistance_documents', ['application_id'])


def downgrade():
    op.drop_index(op.f('ix_assistance_documents_application_id'), table_name='assistance_documents')
    op.drop_table('assistance_documents')
    op.drop_index('ix_assistance_applications_open', table_name='assistance_applications')
    op.drop_index(op.f('ix_assistance_applications_statement_id'), table_name='assistance_applications')
    op.drop_index(op.f('ix_assistance_applications_account_id'), table_name='assistance_applications')
    op.drop_table('assistance_applications')
