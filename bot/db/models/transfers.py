"""Transfer requests and their audit trail, shared by intake, verification, review and tracking."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow

# States in which a request still "holds" its repository (one open request per repository).
OPEN_STATES = ("draft", "submitted", "under_review", "approved", "transferring")
CLOSED_STATES = ("rejected", "done", "withdrawn")


class TransferRequest(Base):
    __tablename__ = "transfer_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    requester_id: Mapped[int] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(20), default="draft")

    # Form, step 1. repo_key is "owner/name" lower-cased: the uniqueness key.
    repo_owner: Mapped[str] = mapped_column(String(100))
    repo_name: Mapped[str] = mapped_column(String(100))
    repo_key: Mapped[str] = mapped_column(String(201))
    github_repo_id: Mapped[int | None]
    pypi_project: Mapped[str | None] = mapped_column(String(200))
    pypi_project_detected: Mapped[bool] = mapped_column(default=False)
    github_username: Mapped[str | None] = mapped_column(String(39))
    pypi_username: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    terms_accepted_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]

    # Eligibility report (JSON produced by the eligibility service); error set when a check must be retried.
    verdict: Mapped[str | None] = mapped_column(String(20))
    report_json: Mapped[str | None] = mapped_column(Text)
    report_checked_at: Mapped[datetime | None]
    report_error: Mapped[str | None] = mapped_column(Text)
    # Failed check runs in a row: each request backs off on its own (bot/services/transfers.py).
    check_failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    # Ownership verification.
    verified_at: Mapped[datetime | None]
    verification_method: Mapped[str | None] = mapped_column(String(30))
    verified_github_login: Mapped[str | None] = mapped_column(String(39))
    verification_note: Mapped[str | None] = mapped_column(Text)

    # Review.
    review_channel_id: Mapped[int | None]
    review_message_id: Mapped[int | None] = mapped_column(index=True)
    review_thread_id: Mapped[int | None]
    decided_by: Mapped[int | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index(
            "uq_transfer_requests_open_repo",
            "repo_key",
            unique=True,
            sqlite_where=text("state IN ('draft', 'submitted', 'under_review', 'approved', 'transferring')"),
            postgresql_where=text("state IN ('draft', 'submitted', 'under_review', 'approved', 'transferring')"),
        ),
    )

    @property
    def repo_full_name(self) -> str:
        return f"{self.repo_owner}/{self.repo_name}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class TransferEvent(Base):
    """Append-only audit log: every state change and every privileged action on a request."""

    __tablename__ = "transfer_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("transfer_requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]  # Discord user id; None when the bot acted on its own
    action: Mapped[str] = mapped_column(String(50))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
