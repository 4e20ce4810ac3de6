"""maintainer review and tracking

Revision ID: 0005_review
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision = "0005_review"
down_revision = "0001_core"
branch_labels = ("review",)
depends_on = None


def _request_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["request_id"],
        ["transfer_requests.id"],
        name=op.f(f"fk_{table}_request_id_transfer_requests"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "review_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(length=16), nullable=False),
        sa.Column("at", bot.db.base.UtcDateTime(), nullable=False),
        _request_fk("review_votes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_votes")),
        sa.UniqueConstraint("request_id", "user_id", "emoji", name=op.f("uq_review_votes_request_id")),
    )
    with op.batch_alter_table("review_votes") as batch_op:
        batch_op.create_index(batch_op.f("ix_review_votes_request_id"), ["request_id"], unique=False)

    op.create_table(
        "review_checklist_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("done_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("done_by", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _request_fk("review_checklist_items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_checklist_items")),
        sa.UniqueConstraint("request_id", "key", name=op.f("uq_review_checklist_items_request_id")),
    )
    with op.batch_alter_table("review_checklist_items") as batch_op:
        batch_op.create_index(batch_op.f("ix_review_checklist_items_request_id"), ["request_id"], unique=False)

    op.create_table(
        "review_nudges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("stalled_since", bot.db.base.UtcDateTime(), nullable=False),
        sa.Column("sent_at", bot.db.base.UtcDateTime(), nullable=False),
        _request_fk("review_nudges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_nudges")),
        sa.UniqueConstraint("request_id", "level", "stalled_since", name=op.f("uq_review_nudges_request_id")),
    )
    with op.batch_alter_table("review_nudges") as batch_op:
        batch_op.create_index(batch_op.f("ix_review_nudges_request_id"), ["request_id"], unique=False)

    op.create_table(
        "review_tracking",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("approved_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("last_progress_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("repo_id", sa.BigInteger(), nullable=True),
        sa.Column("repo_full_name", sa.String(length=201), nullable=True),
        sa.Column("last_checked_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("invitation_state", sa.String(length=20), nullable=False),
        sa.Column("invitation_login", sa.String(length=39), nullable=True),
        sa.Column("invitation_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("invitation_error", sa.Text(), nullable=True),
        sa.Column("requester_thread_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_notified_at", bot.db.base.UtcDateTime(), nullable=True),
        sa.Column("announced_at", bot.db.base.UtcDateTime(), nullable=True),
        _request_fk("review_tracking"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_review_tracking")),
    )


def downgrade() -> None:
    op.drop_table("review_tracking")
    op.drop_table("review_nudges")
    op.drop_table("review_checklist_items")
    op.drop_table("review_votes")
