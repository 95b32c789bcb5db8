"""Each subscriber's own rhythm (issue 17): the rhythm a subscriber follows ("" is the
config's default rhythm, so every existing subscriber has it), the rhythm of an issue with
numbers per rhythm, and which of an issue's articles each delivery carries (the ledger of
what each subscriber received).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("rhythm", sa.String(32), nullable=False, server_default=""))
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("rhythm", sa.String(32), nullable=False, server_default=""))
        batch.drop_constraint("uq_issues_number", type_="unique")
        batch.create_unique_constraint("uq_issues_rhythm_number", ["rhythm", "number"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("articles", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("articles")
    with op.batch_alter_table("issues") as batch:
        batch.drop_constraint("uq_issues_rhythm_number", type_="unique")
        batch.create_unique_constraint("uq_issues_number", ["number"])
        batch.drop_column("rhythm")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("rhythm")
