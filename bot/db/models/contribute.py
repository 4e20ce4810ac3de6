"""Beginner-issue suggestions: the GitHub cache (issues, repository facts, refresh state) and
per-user state ("shown" records, digest subscriptions, the durable digest log)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class CachedIssue(Base):
    """One open issue returned by the org-wide beginner search, as of the last refresh."""

    __tablename__ = "contribute_issues"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # GitHub issue id
    repo_full_name: Mapped[str] = mapped_column(String(200), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(512))
    labels_json: Mapped[str] = mapped_column(Text, default="[]")
    assignees: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="open")
    is_pull_request: Mapped[bool] = mapped_column(default=False)
    # The search excludes linked PRs (-linked:pr); the flag is kept so a future per-repo source
    # can store them and the filter still holds.
    linked_pr: Mapped[bool] = mapped_column(default=False)
    author_association: Mapped[str] = mapped_column(String(32), default="NONE")
    author_login: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)  # last refresh that returned it


class RepoFacts(Base):
    """An org repository, plus what the docs/tests fallback needs to know about it."""

    __tablename__ = "contribute_repos"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # GitHub repo id
    full_name: Mapped[str] = mapped_column(String(200), unique=True)
    name_lower: Mapped[str] = mapped_column(String(100), index=True)
    archived: Mapped[bool] = mapped_column(default=False)
    fork: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(String(512))
    html_url: Mapped[str] = mapped_column(String(512))
    default_branch: Mapped[str] = mapped_column(String(100), default="main")
    pushed_at: Mapped[datetime | None]
    listed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Facts read lazily (a few repositories per refresh); None until read.
    facts_checked_at: Mapped[datetime | None]
    facts_pushed_at: Mapped[datetime | None]  # pushed_at when the facts were read
    docs_dir: Mapped[str | None] = mapped_column(String(100))  # "docs", "doc" or None
    docs_files: Mapped[int | None] = mapped_column(Integer)
    tests_location: Mapped[str | None] = mapped_column(String(200))  # "tests", "src/pkg/tests"...
    contributing_path: Mapped[str | None] = mapped_column(String(200))
    last_release_tag: Mapped[str | None] = mapped_column(String(100))
    last_release_at: Mapped[datetime | None]
    ci_workflows: Mapped[int | None] = mapped_column(Integer)


class RefreshState(Base):
    """One row per org: when the cache was last refreshed, and why the last attempt failed."""

    __tablename__ = "contribute_refresh"

    org: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_after: Mapped[datetime | None]  # set when GitHub asked us to back off
    issues_total: Mapped[int] = mapped_column(Integer, default=0)
    incomplete: Mapped[bool] = mapped_column(default=False)


class ShownIssue(Base):
    """An issue shown to a user: "More" skips it for 14 days."""

    __tablename__ = "contribute_shown"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int]
    issue_id: Mapped[int]
    shown_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "issue_id"), Index("ix_contribute_shown_at", "shown_at"))


class Subscription(Base):
    """A weekly digest subscription. project "*" means every repository in the org."""

    __tablename__ = "contribute_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(index=True)
    project: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "project"),)


class DigestLog(Base):
    """The digest of one week for one user. The unique key is claimed before sending, so a
    restart can never send the same week twice."""

    __tablename__ = "contribute_digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int]
    week_key: Mapped[str] = mapped_column(String(10))  # ISO week, e.g. "2026-W02"
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    via: Mapped[str | None] = mapped_column(String(16))  # "dm", "thread" or "failed"
    issue_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("user_id", "week_key"),)
