"""What a user typed into a form that was refused, kept so "Edit and try again" works after a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class FormRetry(Base):
    """One refused form submission. The id goes into the retry button's custom_id; the row holds the text
    (a custom_id can't: 100 characters), and only `user_id` may reopen it."""

    __tablename__ = "form_retries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(index=True)
    request_id: Mapped[int | None]  # the draft being edited; None for a new request
    values_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
