"""job_runs: what `publisher run` did, one row per (job, scheduled slot).

Revision ID: 0003
Revises: 0002
Create Date: 2024-11-25
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("slot", UTCDateTime, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False, server_default=""),
        sa.Column("started", UTCDateTime, nullable=False),
        sa.Column("finished", UTCDateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("seconds", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
        sa.UniqueConstraint("job", "slot", name="uq_job_runs_job"),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job", "started"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_job_started", "job_runs")
    op.drop_table("job_runs")
