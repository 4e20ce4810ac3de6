"""The maintainers' weekly digest: one row per week posted, and candidate questions from the
eco channel (bounded: pruned by age and count)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class MaintainersDigestWeek(Base):
    """The week's post. The row is claimed (conditional insert/update) before posting and gets the
    message id after, so restarts and crashes around the hour post it exactly once."""

    __tablename__ = "maintainers_digest_weeks"

    week_key: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO week, "2026-W02"
    claimed_at: Mapped[datetime]
    claim_token: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime | None]
    channel_id: Mapped[int | None]
    message_id: Mapped[int | None]


class DigestQuestion(Base):
    """A message in the eco channel that asks something, until someone answers it or it ages out."""

    __tablename__ = "digest_questions"

    message_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int]
    author_id: Mapped[int]
    excerpt: Mapped[str] = mapped_column(String(300))
    asked_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
