"""join requests: /eco join

Revision ID: 0018_join
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision = "0018_join"
down_revision = "0001_core"
branch_labels = ("join",)
depends_on = None

DT = bot.db.base.UtcDateTime
OPEN = "state IN ('proving', 'submitted', 'under_review', 'approved')"


def upgrade() -> None:
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("projects_json", sa.Text(), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.Column("github_login", sa.String(length=39), nullable=True),
        sa.Column("github_user_id", sa.BigInteger(), nullable=True),
        sa.Column("proven_at", DT(), nullable=True),
        sa.Column("account_created_at", DT(), nullable=True),
        sa.Column("contributions_json", sa.Text(), nullable=True),
        sa.Column("contributions_error", sa.Text(), nullable=True),
        sa.Column("device_code", sa.String(length=100), nullable=True),
        sa.Column("user_code", sa.String(length=20), nullable=True),
        sa.Column("verification_uri", sa.String(length=300), nullable=True),
        sa.Column("device_interval", sa.BigInteger(), nullable=True),
        sa.Column("next_poll_at", DT(), nullable=True),
        sa.Column("device_expires_at", DT(), nullable=True),
        sa.Column("device_started_at", DT(), nullable=True),
        sa.Column("device_error", sa.String(length=50), nullable=True),
        sa.Column("proof_note", sa.Text(), nullable=True),
        sa.Column("proof_done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("proof_notified_at", DT(), nullable=True),
        sa.Column("review_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("review_message_id", sa.BigInteger(), nullable=True),
        sa.Column("review_thread_id", sa.BigInteger(), nullable=True),
        sa.Column("card_posted_at", DT(), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", DT(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("requester_notified_at", DT(), nullable=True),
        sa.Column("requester_told_at", DT(), nullable=True),
        sa.Column("invitation_state", sa.String(length=20), nullable=True),
        sa.Column("invitation_at", DT(), nullable=True),
        sa.Column("invitation_error", sa.Text(), nullable=True),
        sa.Column("teams_note", sa.Text(), nullable=True),
        sa.Column("created_at", DT(), nullable=False),
        sa.Column("updated_at", DT(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_requests")),
    )
    with op.batch_alter_table("join_requests") as batch_op:
        batch_op.create_index(batch_op.f("ix_join_requests_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_join_requests_review_message_id"), ["review_message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_join_requests_next_poll_at"), ["next_poll_at"], unique=False)
        batch_op.create_index("uq_join_requests_open_requester", ["requester_id"], unique=True,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_table(
        "join_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("join_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(length=16), nullable=False),
        sa.Column("at", DT(), nullable=False),
        sa.ForeignKeyConstraint(["join_id"], ["join_requests.id"], name=op.f("fk_join_votes_join_id_join_requests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_votes")),
        sa.UniqueConstraint("join_id", "user_id", "emoji", name=op.f("uq_join_votes_join_id")),
    )
    with op.batch_alter_table("join_votes") as batch_op:
        batch_op.create_index(batch_op.f("ix_join_votes_join_id"), ["join_id"], unique=False)


def downgrade() -> None:
    op.drop_table("join_votes")
    op.drop_table("join_requests")
