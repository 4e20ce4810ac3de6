"""refused form submissions kept for "Edit and try again"

Revision ID: 0011_form_retries
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision = "0011_form_retries"
down_revision = "0001_core"
branch_labels = ("form_retries",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_retries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("created_at", bot.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_retries")),
    )
    with op.batch_alter_table("form_retries") as batch_op:
        batch_op.create_index(batch_op.f("ix_form_retries_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_form_retries_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("form_retries")
