"""Leases (the one scheduling `publisher run`) and shared rate limits (every worker's sends);
issues.period widened to 200 characters (PostgreSQL enforces lengths: "since/now" with
microseconds and zones is over 64).

Revision ID: 0004
Revises: 0003
Create Date: 2024-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires", sa.Float, nullable=False),  # seconds since the epoch
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("next_free", sa.Float, nullable=False),  # seconds since the epoch
        sa.PrimaryKeyConstraint("name", name="pk_rate_limits"),
    )
    with op.batch_alter_table("issues") as batch:
        batch.alter_column("period", type_=sa.String(200), existing_type=sa.String(64),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.alter_column("period", type_=sa.String(64), existing_type=sa.String(200),
                           existing_nullable=False)
    op.drop_table("rate_limits")
    op.drop_table("leases")
