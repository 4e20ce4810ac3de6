"""Newcomer replies: who was welcomed, which automatic answers were given, "Not helpful" presses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class WelcomedMember(Base):
    __tablename__ = "welcomed_members"

    guild_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    welcomed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqReply(Base):
    """One automatic (or maintainer-requested) answer; the cooldowns are computed from these rows."""

    __tablename__ = "faq_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic_id: Mapped[str] = mapped_column(String(64), index=True)
    channel_id: Mapped[int]
    user_id: Mapped[int]
    message_id: Mapped[int]
    reply_message_id: Mapped[int | None] = mapped_column(index=True)
    automatic: Mapped[bool] = mapped_column(default=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FaqFeedback(Base):
    __tablename__ = "faq_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic_id: Mapped[str] = mapped_column(String(64), index=True)
    reply_message_id: Mapped[int]
    user_id: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("reply_message_id", "user_id"),)
