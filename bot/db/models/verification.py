"""Ownership verifications: one row per attempt to prove control of a repository.

A row belongs to one Discord user, one request and one repository. It never holds an access token:
the device flow's token lives only in memory for the few requests that use it. The `device_code`
is not a token, but it is kept only while the attempt is pending (cleared when it finishes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow

METHODS = ("device", "topic", "manual")
STATES = ("pending", "verified", "failed", "expired")


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("transfer_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int]  # the Discord user whose proof this is (the requester)
    repo_key: Mapped[str] = mapped_column(String(201))  # "owner/name" lower-cased, as on the request
    method: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    # Outcome code ("owner", "org_admin", "not_owner", "access_denied", ...) and the text the user saw.
    result: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    github_login: Mapped[str | None] = mapped_column(String(39))

    # Repository-topic proof.
    nonce: Mapped[str | None] = mapped_column(String(50), unique=True)

    # Device flow: what is needed to resume polling after a restart.
    device_code: Mapped[str | None] = mapped_column(String(100))
    user_code: Mapped[str | None] = mapped_column(String(20))
    verification_uri: Mapped[str | None] = mapped_column(String(300))
    interval: Mapped[int | None] = mapped_column(Integer)
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(String(50))

    expires_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]  # when the user was told the outcome of a background poll
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
