"""per-request back-off of postponed eligibility checks

Revision ID: 0008_check_backoff
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_check_backoff"
down_revision = "0001_core"
branch_labels = ("check_backoff",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfer_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("check_failures", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("transfer_requests", schema=None) as batch_op:
        batch_op.drop_column("check_failures")
