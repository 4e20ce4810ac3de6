"""Maintainer review and post-approval tracking: votes, checklist, nudges, tracking state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class ReviewVote(Base):
    """One maintainer reaction on a review card. Only counted votes are stored."""

    __tablename__ = "review_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("transfer_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int]
    emoji: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    # The unique key makes a replayed reaction event a no-op (INSERT ... ON CONFLICT DO NOTHING).
    __table_args__ = (UniqueConstraint("request_id", "user_id", "emoji"),)


class ChecklistItem(Base):
    """One step of an approved transfer. done_by None means the bot verified it automatically."""

    __tablename__ = "review_checklist_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("transfer_requests.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("request_id", "key"),)


class ReviewNudge(Base):
    """A stall reminder. Unique per (request, level, stall start) so each stall nudges once per level."""

    __tablename__ = "review_nudges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("transfer_requests.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(20))  # "requester" or "maintainers"
    stalled_since: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("request_id", "level", "stalled_since"),)


class ReviewTracking(Base):
    """Per-request bookkeeping from the card on: progress clock, repository identity, invitation."""

    __tablename__ = "review_tracking"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("transfer_requests.id", ondelete="CASCADE"), primary_key=True
    )
    approved_at: Mapped[datetime | None]
    last_progress_at: Mapped[datetime | None]
    repo_id: Mapped[int | None]
    repo_full_name: Mapped[str | None] = mapped_column(String(201))
    last_checked_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Invitation: "pending" (to send), "sending" (claimed), "sent", "member", "failed", "manual".
    invitation_state: Mapped[str] = mapped_column(String(20), default="pending")
    invitation_login: Mapped[str | None] = mapped_column(String(39))
    invitation_at: Mapped[datetime | None]
    invitation_error: Mapped[str | None] = mapped_column(Text)
    # A private thread with the requester (used when their DMs are closed and the review thread is
    # maintainers-only).
    requester_thread_id: Mapped[int | None]
    # Set once the requester has been sent their post-approval checklist / rejection notice.
    requester_notified_at: Mapped[datetime | None]
    announced_at: Mapped[datetime | None]
