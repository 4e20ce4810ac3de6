"""The only part of the suggestions feature that talks to GitHub: a background refresh of the
issue cache and of repository facts.

One org repository listing, the org-wide issue search (paged, at most 1,000 results, kept under
30 calls a minute) and a few repositories' facts per pass. Every GET goes through the client's
ETag cache, so a refresh when nothing changed is only 304 answers, which cost no rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.dialect import insert
from bot.db.models.contribute import CachedIssue, RefreshState, RepoFacts, ShownIssue
from bot.github import GitHubClient, Issue, Repo
from bot.http import ApiError, RateLimited

log = logging.getLogger(__name__)

SHOWN_WINDOW = timedelta(days=14)  # "More" never repeats an issue shown within this window
SEARCH_PER_PAGE = 100
SEARCH_CAP = 1000  # GitHub search never returns more than 1,000 results for one query
SEARCH_PER_MINUTE = 30
# Without GITHUB_TOKEN search allows 10 requests a minute per IP:
# https://docs.github.com/en/rest/search/search#rate-limit
SEARCH_PER_MINUTE_ANONYMOUS = 10
SHORT_WAIT = 60.0  # wait out a rate limit this short; longer ones end the refresh
FAILED_PAUSE = timedelta(minutes=1)  # after GitHub failed, /eco contribute on an empty cache doesn't retry sooner
FACTS_MAX_AGE = timedelta(days=7)
FACTS_AFTER_PUSH = timedelta(days=1)
FACTS_PER_PASS = 10


@dataclass(frozen=True)
class RefreshResult:
    ok: bool
    repos: int = 0
    issues: int = 0
    facts_read: int = 0
    requests: int = 0
    not_modified: int = 0
    rate_limit_cost: int = 0
    error: str | None = None
    skipped: bool = False


def search_query(org: str, labels: Iterable[str]) -> str:
    # A comma-separated label list is an OR in GitHub search; separate label: terms would be AND.
    quoted = ",".join(f'"{label}"' for label in labels)
    return f"org:{org} is:issue is:open archived:false no:assignee -linked:pr label:{quoted}"


class SearchPacer:
    """Keeps search calls under the search API's own limit per rolling minute (30, or 10 anonymous)."""

    def __init__(
        self,
        per_minute: int = SEARCH_PER_MINUTE,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._per_minute = per_minute
        self._times: deque[float] = deque()
        self._monotonic = monotonic
        self.sleep = sleep

    async def wait(self) -> None:
        now = self._monotonic()
        while self._times and now - self._times[0] >= 60:
            self._times.popleft()
        if len(self._times) >= self._per_minute:
            await self.sleep(60 - (now - self._times[0]))
            self._times.popleft()
        self._times.append(self._monotonic())


class CacheRefresher:
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
        self._github = github
        self._clock = clock
        self._org = settings.github.org
        self._cfg = settings.contribute
        # Paced on the bot's clock, under the search limit that applies to how the bot authenticates.
        self._pacer = pacer or SearchPacer(
            SEARCH_PER_MINUTE if settings.secrets.github_token else SEARCH_PER_MINUTE_ANONYMOUS,
            monotonic=lambda: clock.now().timestamp(),
            sleep=clock.sleep,
        )
        self._facts_per_pass = facts_per_pass
        self._running: asyncio.Task[RefreshResult] | None = None
        self.generation = 0  # bumped by every write to the cache, so readers know to reload

    async def refresh(self, *, force: bool = False) -> RefreshResult:
        """Refresh the cache; a caller arriving during a refresh waits for that one instead."""
        if self._running is None or self._running.done():
            self._running = asyncio.get_running_loop().create_task(self._refresh(force))
        return await asyncio.shield(self._running)

    async def close(self) -> None:
        """Stop a refresh in flight (the bot is shutting down); the cache stays as it was."""
        if self._running is not None and not self._running.done():
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running

    async def _refresh(self, force: bool) -> RefreshResult:
        now = self._clock.now()
        async with self._db() as s:
            state = await s.get(RefreshState, self._org)
            if state is None:
                state = RefreshState(org=self._org, issues_total=0, incomplete=False)
                s.add(state)
            if not force and state.next_attempt_after and now < state.next_attempt_after:
                return RefreshResult(ok=False, skipped=True, error=state.last_error)
            state.last_attempt_at = now
            await s.commit()
        before = self._github.stats
        repos_n = issues_n = facts_n = 0
        error: str | None = None
        backoff: datetime | None = None
        try:
            repos = [r for r in await self._github.list_org_repos(self._org) if not r.private]
            repos_n = await self._store_repos(repos, now)
            issues, complete = await self._search_all()
            issues_n = await self._store_issues(issues, complete, now)
            facts_n = await self._refresh_facts(now)
        except RateLimited as exc:
            error, backoff = exc.message, now + timedelta(seconds=exc.retry_after)
        except ApiError as exc:
            # Without a pause, every /eco contribute on a still-empty cache would try GitHub again.
            error, backoff = exc.message, now + FAILED_PAUSE
        after = self._github.stats
        async with self._db() as s:
            state = await s.get(RefreshState, self._org)
            assert state is not None
            state.last_error, state.next_attempt_after = error, backoff
            if error is None:
                state.last_success_at = now
                state.issues_total = issues_n
            await s.execute(delete(ShownIssue).where(ShownIssue.shown_at < now - SHOWN_WINDOW))
            await s.commit()
        result = RefreshResult(
            ok=error is None,
            repos=repos_n,
            issues=issues_n,
            facts_read=facts_n,
            requests=after.requests - before.requests,
            not_modified=after.not_modified - before.not_modified,
            rate_limit_cost=after.counted - before.counted,
            error=error,
        )
        log.info("contribute refresh: %s", result)
        return result

    async def _store_repos(self, repos: list[Repo], now: datetime) -> int:
        async with self._db() as s:
            for repo in repos:
                values = {
                    "full_name": repo.full_name,
                    "name_lower": repo.name.lower(),
                    "archived": repo.archived,
                    "fork": repo.fork,
                    "description": (repo.description or "")[:512] or None,
                    "html_url": repo.html_url,
                    "default_branch": repo.default_branch,
                    "pushed_at": repo.pushed_at,
                    "listed_at": now,
                }
                stmt = insert(s, RepoFacts).values(id=repo.id, **values)
                await s.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
            # Repositories transferred out or deleted leave the org listing: forget them.
            await s.execute(delete(RepoFacts).where(RepoFacts.id.not_in([r.id for r in repos])))
            await s.commit()
        self.generation += 1
        return len(repos)

    async def _search(self, query: str, page: int) -> Any:
        await self._pacer.wait()
        try:
            return await self._github.search_issues(query, page=page, per_page=SEARCH_PER_PAGE)
        except RateLimited as exc:
            if exc.retry_after > SHORT_WAIT:
                raise
            await self._pacer.sleep(exc.retry_after)
            return await self._github.search_issues(query, page=page, per_page=SEARCH_PER_PAGE)

    async def _search_all(self) -> tuple[list[Issue], bool]:
        """All pages of the org-wide query. Sorted by last update, so if more than 1,000 issues
        match, the ones dropped are the least active. Returns (issues, complete)."""
        query = search_query(self._org, self._cfg.labels)
        issues: list[Issue] = []
        complete = True
        for page in range(1, SEARCH_CAP // SEARCH_PER_PAGE + 1):
            result = await self._search(query, page)
            issues.extend(result.items)
            complete = complete and not result.incomplete_results
            if len(result.items) < SEARCH_PER_PAGE or page * SEARCH_PER_PAGE >= result.total_count:
                break
        else:
            complete = False
        if complete and len(issues) >= SEARCH_CAP:
            complete = False
        if not complete:
            log.warning("contribute search incomplete: %d issues kept, old ones kept a day", len(issues))
        return issues, complete

    async def _store_issues(self, issues: list[Issue], complete: bool, now: datetime) -> int:
        rows = [
            {
                "id": i.id,
                "repo_full_name": i.repo_full_name,
                "number": i.number,
                "title": i.title[:512],
                "url": i.html_url[:512],
                "labels_json": json.dumps(list(i.labels)),
                "assignees": len(i.assignees),
                "comments": i.comments,
                "state": i.state,
                "is_pull_request": i.is_pull_request,
                "linked_pr": False,
                "author_association": i.author_association[:32],
                "author_login": i.user_login,
                "created_at": i.created_at,
                "updated_at": i.updated_at,
                "seen_at": now,
            }
            for i in issues
        ]
        seen = {r["id"] for r in rows}
        async with self._db() as s:
            for start in range(0, len(rows), 500):
                stmt = insert(s, CachedIssue).values(rows[start : start + 500])
                update = {c: stmt.excluded[c] for c in rows[0] if c != "id"}
                await s.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update))
            if complete:
                # Gone from the search: closed, assigned, linked to a PR or relabelled.
                existing = set((await s.scalars(select(CachedIssue.id))).all())
                gone = list(existing - seen)
                for start in range(0, len(gone), 500):
                    await s.execute(delete(CachedIssue).where(CachedIssue.id.in_(gone[start : start + 500])))
            else:
                await s.execute(delete(CachedIssue).where(CachedIssue.seen_at < now - timedelta(days=1)))
            await s.commit()
        self.generation += 1
        return len(rows)

    async def _refresh_facts(self, now: datetime) -> int:
        async with self._db() as s:
            repos = (await s.scalars(select(RepoFacts).where(RepoFacts.archived.is_(False)))).all()
        due = [r for r in repos if _facts_due(r, now)]
        due.sort(key=lambda r: (r.facts_checked_at is not None, r.facts_checked_at or now))
        read = 0
        for repo in due[: self._facts_per_pass]:
            try:
                facts = await self._read_facts(repo)
            except RateLimited:
                raise
            except ApiError as exc:
                log.warning("could not read facts of %s: %s", repo.full_name, exc.message)
                continue
            async with self._db() as s:
                row = await s.get(RepoFacts, repo.id)
                if row is None:
                    continue
                for key, value in facts.items():
                    setattr(row, key, value)
                row.facts_checked_at, row.facts_pushed_at = now, row.pushed_at
                await s.commit()
            self.generation += 1
            read += 1
        return read

    async def _read_facts(self, repo: RepoFacts) -> dict[str, Any]:
        owner, name = repo.full_name.split("/", 1)
        gh = self._github
        root = {e.name.lower(): e for e in await gh.list_dir(owner, name, "") or []}
        dirs = {n: e.name for n, e in root.items() if e.type == "dir"}
        docs_dir = next((dirs[d] for d in ("docs", "doc") if d in dirs), None)
        docs = await gh.list_dir(owner, name, docs_dir) if docs_dir else None
        contributing = _find_contributing(root, docs, docs_dir)
        if contributing is None and ".github" in dirs:
            github_dir = {e.name.lower(): e for e in await gh.list_dir(owner, name, ".github") or []}
            contributing = _find_contributing(github_dir, None, None, prefix=".github/")
        tests = next((dirs[d] for d in ("tests", "test", "testing") if d in dirs), None)
        if tests is None:
            tests = await self._package_tests(owner, name, dirs)
        releases = await gh.list_releases(owner, name)
        dated = [r for r in releases if r.published_at is not None]
        latest = max(dated, key=lambda r: r.published_at) if dated else None  # type: ignore[arg-type,return-value]
        workflows = await gh.list_workflows(owner, name)
        return {
            "docs_dir": docs_dir,
            "docs_files": sum(1 for e in docs or () if e.type == "file") if docs_dir else None,
            "tests_location": tests,
            "contributing_path": contributing,
            "last_release_tag": latest.tag[:100] if latest else None,
            "last_release_at": latest.published_at if latest else None,
            "ci_workflows": len(workflows),
        }

    async def _package_tests(self, owner: str, name: str, dirs: dict[str, str]) -> str | None:
        """Tests kept inside the package: src/<pkg>/tests or <pkg>/tests (at most 3 listings)."""
        candidates: list[str] = []
        if "src" in dirs:
            src = await self._github.list_dir(owner, name, dirs["src"]) or []
            candidates = [f"{dirs['src']}/{e.name}" for e in src if e.type == "dir"][:2]
        else:
            guess = name.lower().replace("-", "_")
            candidates = [dirs[guess]] if guess in dirs else []
        for pkg in candidates:
            entries = await self._github.list_dir(owner, name, pkg) or []
            for e in entries:
                if e.type == "dir" and e.name.lower() in ("tests", "test"):
                    return f"{pkg}/{e.name}"
        return None


def _facts_due(repo: RepoFacts, now: datetime) -> bool:
    if repo.facts_checked_at is None:
        return True
    if now - repo.facts_checked_at >= FACTS_MAX_AGE:
        return True
    return repo.facts_pushed_at != repo.pushed_at and now - repo.facts_checked_at >= FACTS_AFTER_PUSH


def _find_contributing(
    entries: dict[str, Any], docs: list[Any] | None, docs_dir: str | None, prefix: str = ""
) -> str | None:
    for name, entry in entries.items():
        if name.startswith("contributing") and entry.type == "file":
            return prefix + entry.name
    for entry in docs or ():
        if entry.name.lower().startswith("contributing") and entry.type == "file":
            return f"{docs_dir}/{entry.name}"
    return None
