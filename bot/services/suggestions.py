"""Beginner-issue suggestions for pallets-eco: answers served from the database only (never a
GitHub call while someone waits), ranked, without repeats, with a docs/tests fallback so the
answer is never empty; plus digest subscriptions. The GitHub side lives in suggestions_refresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.dialect import insert
from bot.db.models.contribute import CachedIssue, DigestLog, RefreshState, RepoFacts, ShownIssue, Subscription
from bot.errors import InvalidInput
from bot.github import GitHubClient
from bot.services.digest_pacing import DM_RETRIES, DmPacer, DmTooFast
from bot.services.suggestions_refresh import (
    FACTS_PER_PASS,
    SHOWN_WINDOW,
    CacheRefresher,
    RefreshResult,
    SearchPacer,
    search_query,
)
from bot.services.suggestions_text import (
    CONTRIBUTING_URL,
    WorkIdea,
    age_text,
    elapsed_text,
    fallback_ideas,
    why_line,
)

log = logging.getLogger(__name__)

KINDS = ("any", "docs", "tests", "bug", "feature")
PAGE_SIZE = 5
RANK_REUSE = timedelta(minutes=1)  # a ranking (day-scale ages and activity) is reused this long
RANK_MEMO_SIZE = 64  # (project, kind) rankings kept per cache version
ALL_PROJECTS = "*"
DIGEST_SIZE = 10


@dataclass(frozen=True)
class Suggestion:
    issue_id: int
    repo: str
    number: int
    title: str
    url: str
    labels: tuple[str, ...]
    comments: int
    created_at: datetime
    updated_at: datetime
    why: str


@dataclass(frozen=True)
class Suggestions:
    items: tuple[Suggestion, ...]
    ideas: tuple[WorkIdea, ...]
    project: str | None
    kind: str
    data_age: timedelta | None
    stale: bool
    preparing: bool = False
    repeated: bool = False  # everything left was already shown in the last 14 days
    more_available: bool = False
    project_id: int | None = None  # GitHub repository id (stable across renames), for buttons


@dataclass(frozen=True)
class DigestPlan:
    user_id: int
    week_key: str
    projects: tuple[str, ...]
    items: tuple[Suggestion, ...]


@dataclass(frozen=True)
class DigestRun:
    sent: int
    failed: int
    postponed: int = 0  # Discord refused to open more DMs: left for the next run, not failed


@dataclass(frozen=True)
class _Row:
    """A cached issue as the ranking needs it (plain tuple-like: fast for thousands of rows)."""

    id: int
    repo: str
    number: int
    title: str
    url: str
    labels: tuple[str, ...]
    comments: int
    created_at: datetime
    updated_at: datetime
    author_association: str
    labels_lower: frozenset[str]
    label_rank: int  # index of its best beginner label in the configured order


@dataclass(frozen=True)
class _Snapshot:
    """The cache as read at one version: rebuilt only when a refresh (or anything) changed it."""

    version: tuple[Any, ...]
    rows: list[_Row]
    repos: dict[str, RepoFacts]


def week_key(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


class SuggestionService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        github: GitHubClient,
        clock: Clock,
        settings: Settings,
        *,
        pacer: SearchPacer | None = None,
        facts_per_pass: int = FACTS_PER_PASS,
    ) -> None:
        self._db = db
        self._clock = clock
        self._org = settings.github.org
        self._org_url = f"{settings.github.web_url.rstrip('/')}/{settings.github.org}"
        self._cfg = settings.contribute
        self._labels = tuple(label.lower() for label in self._cfg.labels)
        self._rank_of = {label: i for i, label in enumerate(self._labels)}
        self._snapshot: _Snapshot | None = None
        self._ranked: dict[tuple[Any, ...], tuple[datetime, list[_Row]]] = {}
        self.refresher = CacheRefresher(db, github, clock, settings, pacer=pacer, facts_per_pass=facts_per_pass)

    async def refresh(self, *, force: bool = False) -> RefreshResult:
        """Refresh the cache from GitHub (background loop, or once on a first start)."""
        return await self.refresher.refresh(force=force)

    async def close(self) -> None:
        await self.refresher.close()

    # ----- answers from the cache ------------------------------------------------------------

    async def project_names(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Non-archived repository names for autocomplete: prefix matches first, then substrings."""
        needle = prefix.strip().lower()
        async with self._db() as s:
            names = (
                await s.scalars(
                    select(RepoFacts.full_name).where(RepoFacts.archived.is_(False)).order_by(RepoFacts.name_lower)
                )
            ).all()
        short = [n.split("/", 1)[1] for n in names]
        starts = [n for n in short if n.lower().startswith(needle)]
        contains = [n for n in short if needle in n.lower() and n not in starts]
        return (starts + contains)[:limit]

    async def suggest(
        self, user_id: int, project: str | None = None, kind: str = "any", *, limit: int = PAGE_SIZE
    ) -> Suggestions:
        kind = (kind or "any").lower()
        if kind not in KINDS:
            raise InvalidInput(f"Kind must be one of: {', '.join(KINDS)}.")
        now = self._clock.now()
        async with self._db() as s:
            state = await s.get(RefreshState, self._org)
            snap = await self._load(s)
            repos = snap.repos
            data_age = now - state.last_success_at if state and state.last_success_at else None
            stale = data_age is None or data_age > timedelta(minutes=3 * self._cfg.refresh_minutes)
            if data_age is None and not repos:
                return Suggestions((), (), project, kind, None, True, preparing=True)
            target = _resolve_project(repos, project) if project else None
            shown = await self._shown(s, user_id, now)
            pool = self._ranked_pool(snap, target, kind, now)
            unseen = [r for r in pool if r.id not in shown]
            repeated = not unseen and bool(pool)
            page = unseen[:limit] if unseen else sorted(pool, key=lambda r: shown[r.id])[:limit]
            more = len(unseen) > limit if unseen else len(pool) > limit
            if page:
                await self._record_shown(s, user_id, [r.id for r in page], now)
                await s.commit()
        items = tuple(self._suggestion(r, repos, now) for r in page)
        ideas: tuple[WorkIdea, ...] = ()
        if len(page) < limit or repeated:
            wanted = max(1, min(3, limit - len(page))) if not repeated else 2
            pick = [target] if target else _active_repos(repos.values())
            ideas = tuple(fallback_ideas(pick, kind, now, wanted, org=self._org, org_url=self._org_url))
        return Suggestions(
            items=items,
            ideas=ideas,
            project=target.full_name if target else None,
            kind=kind,
            data_age=data_age,
            stale=stale,
            repeated=repeated,
            more_available=more,
            project_id=target.id if target else None,
        )

    async def project_by_id(self, repo_id: int) -> str | None:
        """The full name of a cached repository (buttons carry the id, which never changes)."""
        async with self._db() as s:
            row = await s.get(RepoFacts, repo_id)
        return row.full_name if row is not None else None

    async def _load(self, s: AsyncSession) -> _Snapshot:
        """Candidate issues and repositories, parsed once per cache version (a cheap aggregate
        query tells whether anything changed), so an answer costs milliseconds with thousands."""
        c, r = CachedIssue, RepoFacts
        issues_v = (await s.execute(select(func.count(c.id), func.max(c.seen_at), func.max(c.updated_at)))).one()
        repos_v = (
            await s.execute(select(func.count(r.id), func.max(r.listed_at), func.max(r.facts_checked_at)))
        ).one()
        version = (self.refresher.generation, *issues_v, *repos_v)
        if self._snapshot is not None and self._snapshot.version == version:
            return self._snapshot
        query = select(
            c.id, c.repo_full_name, c.number, c.title, c.url, c.labels_json, c.comments,
            c.created_at, c.updated_at, c.author_association,
        ).where(c.state == "open", c.is_pull_request.is_(False), c.assignees == 0, c.linked_pr.is_(False))
        rows = []
        for row in (await s.execute(query)).all():
            labels = tuple(json.loads(row[5]))
            lower = frozenset(label.lower() for label in labels)
            rank = min((self._rank_of[n] for n in lower if n in self._rank_of), default=len(self._rank_of))
            rows.append(_Row(*row[:5], labels, *row[6:], lower, rank))  # type: ignore[arg-type]
        repos = {repo.full_name.lower(): repo for repo in (await s.scalars(select(RepoFacts))).all()}
        self._snapshot = _Snapshot(version, rows, repos)
        return self._snapshot

    def _ranked_pool(self, snap: _Snapshot, target: RepoFacts | None, kind: str, now: datetime) -> list[_Row]:
        """Filtered and ranked candidates, shared by everyone asking the same thing within RANK_REUSE:
        with thousands of cached issues, ranking is most of an answer's cost; what each user was already
        shown is taken out afterwards."""
        key = (snap.version, target.full_name.lower() if target else None, kind)
        hit = self._ranked.get(key)
        if hit is not None and timedelta(0) <= now - hit[0] < RANK_REUSE:
            return hit[1]
        rows = snap.rows
        if target is not None:
            rows = [r for r in rows if r.repo.lower() == target.full_name.lower()]
        pool = self._rank(self._filter(rows, snap.repos, kind), snap.repos, now)
        if len(self._ranked) >= RANK_MEMO_SIZE or any(k[0] != snap.version for k in self._ranked):
            self._ranked.clear()
        self._ranked[key] = (now, pool)
        return pool

    async def _shown(self, s: AsyncSession, user_id: int, now: datetime) -> dict[int, datetime]:
        rows = await s.execute(
            select(ShownIssue.issue_id, ShownIssue.shown_at).where(
                ShownIssue.user_id == user_id, ShownIssue.shown_at >= now - SHOWN_WINDOW
            )
        )
        return {issue_id: at for issue_id, at in rows.all()}

    async def _record_shown(self, s: AsyncSession, user_id: int, ids: list[int], now: datetime) -> None:
        stmt = insert(s, ShownIssue).values([{"user_id": user_id, "issue_id": i, "shown_at": now} for i in ids])
        await s.execute(
            stmt.on_conflict_do_update(index_elements=["user_id", "issue_id"], set_={"shown_at": now})
        )

    def _filter(self, rows: list[_Row], repos: dict[str, RepoFacts], kind: str) -> list[_Row]:
        groups = {
            "docs": self._cfg.docs_labels,
            "tests": self._cfg.tests_labels,
            "bug": self._cfg.bug_labels,
            "feature": self._cfg.feature_labels,
        }
        kind_labels = {label.lower() for label in groups.get(kind, ())}
        archived = {name for name, repo in repos.items() if repo.archived}
        no_label = len(self._labels)  # label_rank of an issue with no beginner label
        return [
            r
            for r in rows
            if r.label_rank != no_label
            and r.repo.lower() not in archived
            and (not kind_labels or r.labels_lower & kind_labels)
        ]

    def _rank(self, rows: list[_Row], repos: dict[str, RepoFacts], now: datetime) -> list[_Row]:
        """Beginner label (config order), then recent activity, then the repository's recent
        maintainer activity (pushes need write access). Issues opened more than max_age_days
        ago come only when nothing else is left, however recently someone commented on them:
        the answer shows "opened N years ago", and that is the age the setting promises."""
        max_age = timedelta(days=self._cfg.max_age_days)
        fresh = [r for r in rows if now - r.created_at <= max_age]
        pool = fresh or rows
        month, half_year, quarter = timedelta(days=30), timedelta(days=180), timedelta(days=90)
        maintained = {
            name: 0 if repo.pushed_at and now - repo.pushed_at <= quarter else 1 for name, repo in repos.items()
        }

        def key(r: _Row) -> tuple[Any, ...]:
            idle = now - r.updated_at
            activity = 0 if idle <= month else 1 if idle <= half_year else 2
            return (r.label_rank, activity, maintained.get(r.repo.lower(), 1), -r.updated_at.timestamp(), r.id)

        return sorted(pool, key=key)

    def _suggestion(self, r: _Row, repos: dict[str, RepoFacts], now: datetime) -> Suggestion:
        repo = repos.get(r.repo.lower())
        best = next((label for label in self._labels if label in {n.lower() for n in r.labels}), None)
        why = why_line(
            label=next((n for n in r.labels if n.lower() == best), None),
            updated_at=r.updated_at,
            created_at=r.created_at,
            comments=r.comments,
            by_maintainer=r.author_association in ("OWNER", "MEMBER", "COLLABORATOR"),
            repo_pushed_at=repo.pushed_at if repo else None,
            now=now,
        )
        return Suggestion(
            r.id, r.repo, r.number, r.title, r.url, r.labels, r.comments, r.created_at, r.updated_at, why
        )

    # ----- subscriptions and the weekly digest ---------------------------------------------------

    async def subscribe(self, user_id: int, project: str | None = None) -> tuple[str, bool]:
        """Returns (what was subscribed to, whether it is new)."""
        async with self._db() as s:
            if project:
                repos = {r.full_name.lower(): r for r in (await s.scalars(select(RepoFacts))).all()}
                key = _resolve_project(repos, project).full_name
            else:
                key = ALL_PROJECTS
            stmt = insert(s, Subscription).values(user_id=user_id, project=key, created_at=self._clock.now())
            result = await s.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "project"]))
            await s.commit()
        return key, result.rowcount == 1

    async def unsubscribe(self, user_id: int) -> int:
        async with self._db() as s:
            result = await s.execute(delete(Subscription).where(Subscription.user_id == user_id))
            await s.commit()
        return result.rowcount

    async def digest_due(self) -> list[DigestPlan]:
        """Subscribers with no digest this ISO week nor in the last 7 days, and at least one
        beginner issue opened since their last digest (or in the last 7 days for a first one).
        The ISO week is the durable once-only key; the 7 days keep a Sunday digest from being
        followed by another on Monday."""
        now = self._clock.now()
        week = week_key(now)
        async with self._db() as s:
            subs: dict[int, set[str]] = {}
            for sub in (await s.scalars(select(Subscription))).all():
                subs.setdefault(sub.user_id, set()).add(sub.project)
            done = set((await s.scalars(select(DigestLog.user_id).where(DigestLog.week_key == week))).all())
            last_sent = dict(
                (
                    await s.execute(
                        select(DigestLog.user_id, func.max(DigestLog.claimed_at)).group_by(DigestLog.user_id)
                    )
                ).all()
            )
            snap = await self._load(s)
            repos = snap.repos
            rows = self._filter(snap.rows, repos, "any")
        plans = []
        for user_id, projects in sorted(subs.items()):
            last = last_sent.get(user_id)
            if user_id in done or (last is not None and now - last < timedelta(days=7)):
                continue
            # Everything opened since the last digest, so issues held back by the 7 days (or
            # while the bot was down) are not lost.
            since = last if last is not None else now - timedelta(days=7)
            wanted = {p.lower() for p in projects}
            new = [
                r for r in rows
                if r.created_at > since and (ALL_PROJECTS in wanted or r.repo.lower() in wanted)
            ]
            if new:
                ranked = self._rank(new, repos, now)[:DIGEST_SIZE]
                items = tuple(self._suggestion(r, repos, now) for r in ranked)
                plans.append(DigestPlan(user_id, week, tuple(sorted(projects)), items))
        return plans

    async def claim_digest(self, user_id: int, week: str) -> bool:
        """Take this week's slot before sending: a crash after this never sends twice."""
        async with self._db() as s:
            stmt = insert(s, DigestLog).values(user_id=user_id, week_key=week, claimed_at=self._clock.now())
            result = await s.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "week_key"]))
            await s.commit()
        return result.rowcount == 1

    async def mark_digest_sent(self, user_id: int, week: str, via: str, issue_count: int) -> None:
        async with self._db() as s:
            row = await s.scalar(
                select(DigestLog).where(DigestLog.user_id == user_id, DigestLog.week_key == week)
            )
            if row is not None:
                row.via, row.issue_count = via, issue_count
                row.sent_at = self._clock.now() if via != "failed" else None
                await s.commit()

    async def release_digest(self, user_id: int, week: str) -> None:
        """Give back a claimed, unsent slot: the next run sends this week's digest after all."""
        async with self._db() as s:
            await s.execute(delete(DigestLog).where(
                DigestLog.user_id == user_id, DigestLog.week_key == week, DigestLog.via.is_(None)
            ))
            await s.commit()

    async def run_digest_once(
        self, send: Callable[[DigestPlan], Awaitable[str]], *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> DigestRun:
        """Send every due digest through `send` (returns "dm" or "thread"; raising marks it failed).

        DMs are paced (`DmPacer`); when `send` raises DmTooFast (Discord's 40003) the same person is
        tried again after a growing pause, and after DM_RETRIES refusals in a row the rest of the run
        is left for the next one (its slots released, nothing marked failed). Whoever was served
        keeps their claimed slot, so nobody gets the week twice.
        """
        sent = failed = postponed = 0
        pacer = DmPacer(self._cfg.digest_dm_interval_seconds, sleep=sleep)
        plans = await self.digest_due()
        for index, plan in enumerate(plans):
            if not await self.claim_digest(plan.user_id, plan.week_key):
                continue
            pause = self._cfg.digest_retry_seconds
            for attempt in range(1, DM_RETRIES + 1):
                await pacer.wait()
                try:
                    via = await send(plan)
                    break
                except DmTooFast:
                    pacer.drain()
                    if attempt == DM_RETRIES:
                        via = "postponed"
                        break
                    log.info("Discord: opening DMs too fast; digest to %s retried in %.0f s", plan.user_id, pause)
                    await sleep(pause)
                    pause *= 2
                except Exception:
                    log.exception("digest for user %s failed", plan.user_id)
                    via = "failed"
                    break
            if via == "postponed":
                await self.release_digest(plan.user_id, plan.week_key)
                postponed = len(plans) - index  # this one and every later one: the next run tries again
                log.warning("Discord kept refusing to open DMs; %d digest(s) left for the next run", postponed)
                break
            await self.mark_digest_sent(plan.user_id, plan.week_key, via, len(plan.items))
            sent, failed = (sent + 1, failed) if via != "failed" else (sent, failed + 1)
        return DigestRun(sent=sent, failed=failed, postponed=postponed)


def _resolve_project(repos: dict[str, RepoFacts], project: str) -> RepoFacts:
    wanted = project.strip().lower()
    found = repos.get(wanted) or next(
        (r for r in repos.values() if r.name_lower == wanted.rsplit("/", 1)[-1]), None
    )
    if found is None:
        raise InvalidInput(f"I don't know a repository called `{project[:100]}` in the org. Pick one as you type.")
    if found.archived:
        raise InvalidInput(f"`{found.full_name}` is archived: it no longer takes contributions.")
    return found


def _active_repos(repos: Iterable[RepoFacts]) -> list[RepoFacts]:
    """Non-archived repositories, most recently pushed first (maintainers there will review)."""
    live = [r for r in repos if not r.archived]
    return sorted(live, key=lambda r: (r.pushed_at is None, -(r.pushed_at.timestamp() if r.pushed_at else 0)))



__all__ = [
    "CONTRIBUTING_URL", "KINDS", "DigestPlan", "DigestRun", "RefreshResult", "SearchPacer", "Suggestion",
    "SuggestionService", "Suggestions", "WorkIdea", "age_text", "elapsed_text", "search_query", "week_key",
]
