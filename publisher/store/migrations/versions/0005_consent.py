"""Consent that holds (issue 13): where each opt-in came from (source, client address), the
suppression list of forgotten addresses (a keyed hash, never the address), and the store's
settings (the fingerprint of the secret key it was first used with); a delivery's first
attempt (retries by time: mail.retry_for).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("optin_source", sa.String(16), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("optin_client", sa.String(100), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("deliveries") as batch:  # retries end mail.retry_for after it
        batch.add_column(sa.Column("first_attempt", sa.DateTime(timezone=True)))
    op.create_table(
        "suppressions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_suppressions"),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_settings"),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("suppressions")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("first_attempt")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("optin_client")
        batch.drop_column("optin_source")
