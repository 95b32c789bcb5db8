"""Subscribers, issues, deliveries (the ledger) and bounces.

Revision ID: 0001
Revises:
Create Date: 2024-11-18
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("categories", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("confirmed", UTCDateTime),
        sa.Column("unsubscribed", UTCDateTime),
        sa.Column("hard_bounces", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_table(
        "issues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("article_ids", sa.Text, nullable=False, server_default="[]"),
        sa.Column("categories", sa.Text, nullable=False, server_default="[]"),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("queued", UTCDateTime),
        sa.Column("sent", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_issues"),
        sa.UniqueConstraint("number", name="uq_issues_number"),
        sa.UniqueConstraint("period", name="uq_issues_period"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issue_id", sa.Integer, nullable=False),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("next_attempt", UTCDateTime),
        sa.Column("sent", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name="fk_deliveries_issue_id_issues", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_deliveries_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("issue_id", "subscriber_id", name="uq_deliveries_issue_id"),
    )
    op.create_index("ix_deliveries_claim", "deliveries", ["issue_id", "status", "next_attempt"])
    op.create_table(
        "bounces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bounces"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_bounces_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("source", name="uq_bounces_source"),
    )


def downgrade() -> None:
    op.drop_table("bounces")
    op.drop_index("ix_deliveries_claim", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("issues")
    op.drop_index("ix_subscribers_status", table_name="subscribers")
    op.drop_table("subscribers")
