"""`/eco join`: members asking to join pallets-eco to help maintain, and the maintainers' votes.

A row never holds an access token: the device flow's token lives only in memory while the login is read.
The device code is kept only while the sign-in is pending (cleared when it finishes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow

# proving: waiting for the GitHub sign-in; submitted: proven, card not posted yet; under_review: card posted;
# approved: invitation sent/being followed. Closed: rejected, withdrawn, member (was already in the org), done.
OPEN_JOIN_STATES = ("proving", "submitted", "under_review", "approved")
REVIEWABLE_JOIN_STATES = ("submitted", "under_review")


class JoinRequest(Base):
    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    requester_id: Mapped[int] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(20), default="proving")
    projects_json: Mapped[str] = mapped_column(Text, default="[]")  # [] means the organisation in general
    about: Mapped[str] = mapped_column(Text, default="")

    # The proven GitHub account (device flow only) and what GitHub says about it.
    github_login: Mapped[str | None] = mapped_column(String(39))
    github_user_id: Mapped[int | None]
    proven_at: Mapped[datetime | None]
    account_created_at: Mapped[datetime | None]
    contributions_json: Mapped[str | None] = mapped_column(Text)
    contributions_error: Mapped[str | None] = mapped_column(Text)

    # Device flow in progress (what is needed to resume polling after a restart).
    device_code: Mapped[str | None] = mapped_column(String(100))
    user_code: Mapped[str | None] = mapped_column(String(20))
    verification_uri: Mapped[str | None] = mapped_column(String(300))
    device_interval: Mapped[int | None]
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    device_expires_at: Mapped[datetime | None]
    device_started_at: Mapped[datetime | None]
    device_error: Mapped[str | None] = mapped_column(String(50))
    # The sign-in's outcome as told to the person, and when it reached them.
    proof_note: Mapped[str | None] = mapped_column(Text)
    proof_done: Mapped[bool] = mapped_column(default=False, server_default=false())
    proof_notified_at: Mapped[datetime | None]

    # Review.
    review_channel_id: Mapped[int | None]
    review_message_id: Mapped[int | None] = mapped_column(index=True)
    review_thread_id: Mapped[int | None]
    card_posted_at: Mapped[datetime | None]  # votes older than the card were made on a deleted one: they stay
    decided_by: Mapped[int | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    requester_notified_at: Mapped[datetime | None]  # claimed before the decision is told
    requester_told_at: Mapped[datetime | None]  # delivered

    # Invitation: pending, sending, sent, resent, member, failed, manual, lapsed.
    invitation_state: Mapped[str | None] = mapped_column(String(20))
    invitation_at: Mapped[datetime | None]
    invitation_error: Mapped[str | None] = mapped_column(Text)
    teams_note: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # One open join request per member, enforced by the database (two concurrent /eco join: one row).
        Index(
            "uq_join_requests_open_requester",
            "requester_id",
            unique=True,
            sqlite_where=text("state IN ('proving', 'submitted', 'under_review', 'approved')"),
            postgresql_where=text("state IN ('proving', 'submitted', 'under_review', 'approved')"),
        ),
    )


class JoinVote(Base):
    """One maintainer reaction on a join card. Only counted votes are stored."""

    __tablename__ = "join_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    join_id: Mapped[int] = mapped_column(ForeignKey("join_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int]
    emoji: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("join_id", "user_id", "emoji"),)
