"""ownership verification

Revision ID: 0004_verification
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision = "0004_verification"
down_revision = "0001_core"
branch_labels = ("verification",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("repo_key", sa.String(length=201), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("result", sa.String(length=30), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("github_login", sa.String(length=39), nullable=True),
        sa.Column("nonce", sa.String(length=50), nullable=True),
        sa.Column("device_code", sa.String(length=100), nullable=True),
        sa.Column("user_code", sa.String(length=20), nullable=True),
        sa.Column("verification_uri", sa.String(length=300), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=True),
        sa.Column("next_poll_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=50), nullable=True),
        sa.Column("expires_at", bot.db.base.UtcDateTime(), nullable=False),
        sa.Column("notified_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("created_at", bot.db.base.UtcDateTime(), nullable=False),
        sa.Column("updated_at", bot.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["transfer_requests.id"],
            name=op.f("fk_verifications_request_id_transfer_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
        sa.UniqueConstraint("nonce", name=op.f("uq_verifications_nonce")),
    )
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verifications_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_verifications_next_poll_at"), ["next_poll_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verifications_next_poll_at"))
        batch_op.drop_index(batch_op.f("ix_verifications_request_id"))
    op.drop_table("verifications")
