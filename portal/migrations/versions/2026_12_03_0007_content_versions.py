"""Content versions: a token that changes whenever the glossary or the service dictionary does

Each worker keeps the glossary and the dictionary in memory and checks this token once a request, so that a
`flask glossary load` or `flask dictionary import` on any machine reaches every worker with the next request.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:20:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('content_versions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_content_versions'))
    )
    op.bulk_insert(table, [{'name': 'plain_language', 'token': secrets.token_hex(16)}])


def downgrade():
    op.drop_table('content_versions')
