"""maintainers' weekly digest: claimed weeks and candidate questions

Revision ID: 0019_maintainers_digest
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision = "0019_maintainers_digest"
down_revision = "0001_core"
branch_labels = ("maintainers_digest",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintainers_digest_weeks",
        sa.Column("week_key", sa.String(length=10), nullable=False),
        sa.Column("claimed_at", bot.db.base.UtcDateTime(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=False),
        sa.Column("posted_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("week_key", name=op.f("pk_maintainers_digest_weeks")),
    )
    op.create_table(
        "digest_questions",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("excerpt", sa.String(length=300), nullable=False),
        sa.Column("asked_at", bot.db.base.UtcDateTime(), nullable=False),
        sa.Column("answered_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_digest_questions")),
    )
    with op.batch_alter_table("digest_questions") as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_questions_asked_at"), ["asked_at"], unique=False)


def downgrade() -> None:
    op.drop_table("digest_questions")
    op.drop_table("maintainers_digest_weeks")
