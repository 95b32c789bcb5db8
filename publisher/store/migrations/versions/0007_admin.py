"""The admin dashboard: the indexes its
pages need to stay fast at a million subscribers (keyset pages by status, prefix search by
address and by name, growth by week, a subscriber's deliveries and bounces).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_subscribers_status_id", "subscribers", ["status", "id"])
    op.create_index("ix_subscribers_created", "subscribers", ["created"])
    op.create_index("ix_subscribers_unsubscribed", "subscribers", ["unsubscribed"])
    op.create_index("ix_deliveries_subscriber", "deliveries", ["subscriber_id"])
    op.create_index("ix_bounces_subscriber", "bounces", ["subscriber_id"])
    if op.get_bind().dialect.name == "postgresql":
        # LIKE 'prefix%' uses these whatever the database's collation
        op.execute("CREATE INDEX ix_subscribers_email_prefix ON subscribers "
                   "(email text_pattern_ops)")
        op.execute("CREATE INDEX ix_subscribers_name_prefix ON subscribers "
                   "(lower(name) text_pattern_ops)")
    else:
        op.execute("CREATE INDEX ix_subscribers_name_prefix ON subscribers (lower(name))")


def downgrade() -> None:
    for name in ("ix_subscribers_name_prefix", "ix_subscribers_email_prefix"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_bounces_subscriber", "bounces")
    op.drop_index("ix_deliveries_subscriber", "deliveries")
    op.drop_index("ix_subscribers_unsubscribed", "subscribers")
    op.drop_index("ix_subscribers_created", "subscribers")
    op.drop_index("ix_subscribers_status_id", "subscribers")
