"""The queue of transactional mails (confirmations, welcomes), sent by a background sender of
the web server instead of inside the request; kept a while as what the mail limits count.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("data", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt", UTCDateTime),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("sent", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
    )
    op.create_index("ix_notices_status_next", "notices", ["status", "next_attempt"])
    op.create_index("ix_notices_mailbox_sent", "notices", ["mailbox", "sent"])


def downgrade() -> None:
    op.drop_table("notices")
