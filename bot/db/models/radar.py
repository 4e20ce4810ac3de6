"""Compatibility radar and /eco health: what PyPI and GitHub said about each eco project, the core
Pallets releases seen, the ETags of the conditional requests, and one row per radar post."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class RadarProject(Base):
    """One org repository, as the background refresh last saw it on PyPI and GitHub."""

    __tablename__ = "radar_projects"

    repo_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # GitHub repo id
    full_name: Mapped[str] = mapped_column(String(200))
    default_branch: Mapped[str] = mapped_column(String(100), default="main")
    # PyPI name from the repository's pyproject.toml (else the repository name), read once a month.
    pypi_name: Mapped[str | None] = mapped_column(String(200))
    name_checked_at: Mapped[datetime | None]
    on_pypi: Mapped[bool | None]  # None: not asked yet
    version: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[datetime | None]
    # The latest release's Pallets requirements, parsed and bounded: [{"name", "spec", "extra"}].
    requires_json: Mapped[str] = mapped_column(Text, default="[]")
    requires_dropped: Mapped[int] = mapped_column(Integer, default=0)  # unreadable/too long, not shown
    ci_state: Mapped[str | None] = mapped_column(String(20))  # "success", "failure", "none"...
    ci_url: Mapped[str | None] = mapped_column(String(300))
    unreleased_commits: Mapped[bool | None]  # None: not checked (release recent, or no release)
    open_issues: Mapped[int | None] = mapped_column(Integer)
    open_prs: Mapped[int | None] = mapped_column(Integer)
    issues_capped: Mapped[bool] = mapped_column(default=False)  # more than one page: "100+"
    oldest_pr_number: Mapped[int | None] = mapped_column(Integer)
    oldest_pr_title: Mapped[str | None] = mapped_column(String(300))
    oldest_pr_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None] = mapped_column(index=True)  # last refresh of this project
    error: Mapped[str | None] = mapped_column(String(200))


class RadarCore(Base):
    """The newest release seen of one core Pallets project."""

    __tablename__ = "radar_core"

    project: Mapped[str] = mapped_column(String(50), primary_key=True)  # normalised PyPI name
    version: Mapped[str] = mapped_column(String(100))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class RadarEtag(Base):
    """The ETag of one conditional request, kept across restarts (its answer is already stored)."""

    __tablename__ = "radar_etags"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    etag: Mapped[str] = mapped_column(String(200))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class RadarPost(Base):
    """One radar post per core release. Inserted (pending) when the release is first seen; a poster
    takes it with a lease (state "posting", lease_until) and marks it "posted" or "nothing" (no eco
    project excludes it). A process killed mid-post leaves a lease another one reclaims when it ends."""

    __tablename__ = "radar_posts"

    project: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    lease_until: Mapped[datetime | None]
    message_id: Mapped[int | None]
    capped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[datetime | None]
