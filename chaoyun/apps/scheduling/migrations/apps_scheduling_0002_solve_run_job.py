"""solves run as job-runner jobs: apps_sched_jobs.run_job_id

Revision ID: apps_scheduling_0002
Revises: apps_scheduling_0001
Create Date: 2026-12-05 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "apps_scheduling_0002"
down_revision: str | Sequence[str] | None = "apps_scheduling_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apps_sched_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_job_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps_sched_jobs", schema=None) as batch_op:
        batch_op.drop_column("run_job_id")
