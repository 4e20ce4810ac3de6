"""Compatibility radar and project health: a background refresh from PyPI and GitHub (conditional
requests whose ETags are kept in SQLite), one radar post per core Pallets release that an eco project's
latest release excludes, and `/eco health` answers read from the database only.

Cost (see benchmarks/radar_cost.py): per project and refresh, one PyPI JSON request and at most three
GitHub requests (latest workflow run, open issues/PRs, commits since a stale release), all conditional;
with nothing changed every GitHub answer is a 304, which costs no rate limit when authenticated.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.dialect import insert as dialect_insert
from bot.db.models.contribute import RepoFacts
from bot.db.models.radar import RadarCore, RadarEtag, RadarPost, RadarProject
from bot.github import GitHubClient
from bot.http import ApiError, ApiStats, Conditional, NotFound, RateLimited
from bot.pypi import PyPIClient, normalize
from bot.services import package_files
from bot.services.package_files import valid_project_name
from bot.services.radar_requirements import (
    PalletsRequirement,
    dump_requirements,
    is_prerelease,
    load_requirements,
    newer,
    pallets_requirements,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a poster killed mid-post leaves this; another process reclaims it after
NAME_RECHECK = timedelta(days=30)  # the PyPI name from pyproject.toml is read again this often
ISSUES_PAGE = 100
_RUN_PATH = re.compile(r"/[A-Za-z0-9._~/%-]{1,280}")  # a workflow run's path on the web: no markdown in it
FAILED_RUNS = frozenset({"failure", "timed_out", "startup_failure"})
DISPLAY = {
    "flask": "Flask", "werkzeug": "Werkzeug", "jinja2": "Jinja2", "click": "Click",
    "markupsafe": "MarkupSafe", "itsdangerous": "ItsDangerous", "wtforms": "WTForms",
}


def display(core: str) -> str:
    return DISPLAY.get(core, core)


@dataclass(frozen=True)
class Flag:
    """Something maintainers should look at. `detail` holds outside text (a specifier from PyPI): escape
    it before rendering."""

    kind: str  # "cap", "ci", "stale"
    detail: str


@dataclass(frozen=True)
class Verdict:
    requirement: PalletsRequirement
    newest: str | None  # the newest core release seen
    admits: bool


@dataclass(frozen=True)
class ProjectHealth:
    repo_id: int
    full_name: str
    pypi_name: str | None
    on_pypi: bool | None
    version: str | None
    released_at: datetime | None
    verdicts: list[Verdict]
    requires_dropped: int
    ci_state: str | None
    ci_url: str | None
    default_branch: str
    unreleased_commits: bool | None
    open_issues: int | None
    open_prs: int | None
    issues_capped: bool
    oldest_pr_number: int | None
    oldest_pr_title: str | None
    oldest_pr_at: datetime | None
    checked_at: datetime | None
    flags: list[Flag]

    @property
    def score(self) -> int:
        weights = {"cap": 4, "ci": 2, "stale": 1}
        return sum(weights.get(f.kind, 1) for f in self.flags)


@dataclass(frozen=True)
class CappedProject:
    full_name: str
    pypi_name: str
    version: str
    spec: str
    extra: bool


@dataclass(frozen=True)
class RadarAlert:
    core: str
    version: str
    capped: list[CappedProject]


@dataclass
class PassResult:
    projects: int = 0
    core_checked: int = 0
    new_core_releases: list[tuple[str, str]] = field(default_factory=list)
    github: ApiStats = field(default_factory=ApiStats)
    pypi: ApiStats = field(default_factory=ApiStats)
    error: str | None = None


def _diff(after: ApiStats, before: ApiStats) -> ApiStats:
    return ApiStats(**{k: getattr(after, k) - getattr(before, k) for k in vars(after)})


def _q(value: str) -> str:
    return quote(value, safe="")


def months_between(earlier: datetime, later: datetime) -> int:
    return max(0, int((later - earlier).days // 30.44))


class RadarService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        github: GitHubClient,
        pypi: PyPIClient,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._db = db
        self._github = github
        self._pypi = pypi
        self._clock = clock
        self._cfg = settings.radar
        self._web_url = settings.github.web_url.rstrip("/")
        self._core = frozenset(self._cfg.core_projects)

    # ----- background refresh ------------------------------------------------------------------

    def per_pass(self, total: int) -> int:
        """Projects per pass so that all are read once per refresh interval, spread over the passes."""
        passes = max(1.0, self._cfg.refresh_minutes / self._cfg.pass_minutes)
        return max(1, min(self._cfg.projects_per_pass, math.ceil(total / passes))) if total else 0

    async def refresh_pass(self, *, all_due: bool = False) -> PassResult:
        """One background pass: the projects most overdue (a few), then the core releases."""
        result = PassResult()
        gh_before, py_before = replace(self._github.stats), replace(self._pypi.stats)  # snapshots
        now = self._clock.now()
        try:
            due = await self._due_projects(now, all_due=all_due)
            for row in due:
                await self._refresh_project(row, now)
                result.projects += 1
            result.new_core_releases = await self._refresh_core(now)
            result.core_checked = len(self._core)
        except RateLimited as exc:
            result.error = exc.message  # the next pass tries again; nothing half-written
            log.info("radar pass stopped by a rate limit: %s", exc.message)
        result.github = _diff(self._github.stats, gh_before)
        result.pypi = _diff(self._pypi.stats, py_before)
        log.info("radar pass: %s", result)
        return result

    async def _due_projects(self, now: datetime, *, all_due: bool) -> list[RadarProject]:
        async with self._db() as s:
            repos = (
                await s.scalars(select(RepoFacts).where(RepoFacts.archived.is_(False), RepoFacts.fork.is_(False)))
            ).all()
            known = {r.repo_id: r for r in (await s.scalars(select(RadarProject))).all()}
            for repo in repos:
                row = known.get(repo.id)
                if row is None:
                    s.add(RadarProject(repo_id=repo.id, full_name=repo.full_name, default_branch=repo.default_branch,
                                       requires_json="[]", requires_dropped=0, issues_capped=False))
                elif (row.full_name, row.default_branch) != (repo.full_name, repo.default_branch):
                    row.full_name, row.default_branch = repo.full_name, repo.default_branch
            live = [r.id for r in repos]
            await s.execute(delete(RadarProject).where(RadarProject.repo_id.not_in(live)))
            await s.commit()
            cutoff = now - timedelta(minutes=self._cfg.refresh_minutes)
            rows = (
                await s.scalars(
                    select(RadarProject)
                    .where(or_(RadarProject.checked_at.is_(None), RadarProject.checked_at <= cutoff))
                    .order_by(RadarProject.checked_at.is_not(None), RadarProject.checked_at)
                )
            ).all()
        return list(rows) if all_due else list(rows[: self.per_pass(len(live))])

    async def _etags(self, keys: list[str]) -> dict[str, str]:
        async with self._db() as s:
            rows = (await s.scalars(select(RadarEtag).where(RadarEtag.key.in_(keys)))).all()
        return {r.key: r.etag for r in rows}

    async def _refresh_project(self, row: RadarProject, now: datetime) -> None:
        owner, name = row.full_name.split("/", 1)
        base = f"/repos/{_q(owner)}/{_q(name)}"
        changes: dict[str, Any] = {}
        new_etags: dict[str, str] = {}
        errors: list[str] = []

        pypi_name = row.pypi_name
        if row.name_checked_at is None or now - row.name_checked_at >= NAME_RECHECK:
            pypi_name = await self._pypi_name(owner, name)
            changes |= {"pypi_name": pypi_name, "name_checked_at": now}
        keys = {
            "pypi": f"pypi:{normalize(pypi_name)}" if pypi_name else None,
            "runs": f"gh:runs:{row.full_name}:{row.default_branch}",
            "issues": f"gh:issues:{row.full_name}",
        }
        etags = await self._etags([k for k in keys.values() if k])

        async def ask(key: str, call: Callable[[str | None], Awaitable[Conditional]]) -> Conditional | None:
            try:
                answer = await call(etags.get(key))
            except RateLimited:
                raise
            except ApiError as exc:
                errors.append(exc.message[:100])
                return None
            if not answer.not_modified and answer.etag:
                new_etags[key] = answer.etag
            return answer

        released_at = row.released_at
        # A repository that is not on PyPI is asked again only with its name (monthly): 404s carry no ETag.
        if pypi_name and keys["pypi"] and (row.on_pypi is not False or "name_checked_at" in changes):
            project_holder: list[Any] = []

            async def pypi_call(etag: str | None) -> Conditional:
                try:
                    answer, project = await self._pypi.get_project_conditional(pypi_name, etag)
                except NotFound:
                    return Conditional(False, None, None)
                project_holder.append(project)
                return answer

            answer = await ask(keys["pypi"], pypi_call)
            if answer is not None and not answer.not_modified:
                project = project_holder[0] if project_holder else None
                if project is None:
                    changes |= {"on_pypi": False, "version": None, "released_at": None, "requires_json": "[]"}
                    released_at = None
                elif project.yanked:
                    # Every release is yanked (else `info` would describe a live one): pip skips them
                    # (PEP 592), so no live release, no release date and no requirements to weigh.
                    changes |= {"on_pypi": True, "version": f"{project.version[:80]} (yanked)", "released_at": None,
                                "requires_json": "[]", "requires_dropped": 0}
                    released_at = None
                else:
                    reqs, dropped = pallets_requirements(list(project.requires_dist), self._core)
                    released_at = project.last_release_at
                    changes |= {
                        "on_pypi": True, "version": project.version[:100] or None, "released_at": released_at,
                        "requires_json": dump_requirements(reqs), "requires_dropped": dropped,
                    }

        answer = await ask(keys["runs"], lambda etag: self._github.get_conditional(
            # event=push: a fork's pull request from its own `main` also has head branch `main`.
            f"{base}/actions/runs", params={"branch": row.default_branch, "event": "push", "per_page": 1},
            etag=etag))
        if answer is not None and not answer.not_modified:
            changes |= self._ci(answer.data)

        answer = await ask(keys["issues"], lambda etag: self._github.get_conditional(
            f"{base}/issues",
            params={"state": "open", "sort": "created", "direction": "asc", "per_page": ISSUES_PAGE}, etag=etag))
        if answer is not None and not answer.not_modified:
            changes |= self._issues(answer.data)

        # Unreleased commits matter only once the release is old: then one more conditional request.
        stale_after = timedelta(days=self._cfg.stale_release_months * 30.44)
        if released_at is not None and now - released_at >= stale_after:
            since = released_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            key = f"gh:commits:{row.full_name}:{row.default_branch}:{since}"
            etag = (await self._etags([key])).get(key)
            etags[key] = etag or ""
            answer = await ask(key, lambda _e: self._github.get_conditional(
                f"{base}/commits", params={"sha": row.default_branch, "since": since, "per_page": 1},
                etag=etag or None))
            if answer is not None and not answer.not_modified:
                changes["unreleased_commits"] = isinstance(answer.data, list) and len(answer.data) > 0
        else:
            changes["unreleased_commits"] = None

        async with self._db() as s:
            current = await s.get(RadarProject, row.repo_id)
            if current is None:
                return
            for key, value in changes.items():
                setattr(current, key, value)
            current.checked_at = now
            current.error = "; ".join(errors)[:200] or None
            for key, etag in new_etags.items():
                stmt = dialect_insert(s, RadarEtag).values(key=key[:400], etag=etag, fetched_at=now)
                await s.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                           set_={"etag": etag, "fetched_at": now}))
            await s.commit()

    async def _pypi_name(self, owner: str, name: str) -> str | None:
        """The project name in pyproject.toml (parsed in the bounded worker), else the repository name."""
        try:
            text = await self._github.get_file(owner, name, "pyproject.toml")
        except RateLimited:
            raise
        except ApiError:
            text = None
        if text:
            result = (await package_files.parse_files([("pyproject.toml", text)]))[0]
            if result.facts is not None and result.facts.name:
                return result.facts.name
        return valid_project_name(name)

    def _ci(self, data: Any) -> dict[str, Any]:
        runs = data.get("workflow_runs") if isinstance(data, dict) else None
        if not isinstance(runs, list) or not runs or not isinstance(runs[0], dict):
            return {"ci_state": "none", "ci_url": None}
        run = runs[0]
        if run.get("status") != "completed":
            state = "running"
        else:
            state = str(run.get("conclusion") or "unknown")[:20]
        url = run.get("html_url")
        # Only a link into the configured GitHub is kept (it is rendered as a link), and only one made of
        # URL path characters: a `)`, space, `<`, `>` or newline would end the markdown link early.
        safe_url = (url if isinstance(url, str) and len(url) <= 300 and url.startswith(self._web_url + "/")
                    and _RUN_PATH.fullmatch(url[len(self._web_url):]) else None)
        return {"ci_state": state, "ci_url": safe_url}

    def _issues(self, data: Any) -> dict[str, Any]:
        items = [i for i in data if isinstance(i, dict)] if isinstance(data, list) else []
        prs = [i for i in items if "pull_request" in i]
        ready = [i for i in prs if not i.get("draft")]
        oldest = ready[0] if ready else None  # asked oldest first
        created = None
        if oldest is not None:
            try:
                created = datetime.fromisoformat(str(oldest.get("created_at")).replace("Z", "+00:00"))
            except ValueError:
                created = None
        return {
            "open_issues": len(items) - len(prs),
            "open_prs": len(prs),
            "issues_capped": len(items) >= ISSUES_PAGE,
            "oldest_pr_number": int(oldest["number"]) if oldest and isinstance(oldest.get("number"), int) else None,
            "oldest_pr_title": str(oldest.get("title") or "")[:300] if oldest else None,
            "oldest_pr_at": created,
        }

    async def _refresh_core(self, now: datetime) -> list[tuple[str, str]]:
        """The newest release of each core project; a newer one than last seen queues one radar post."""
        found: list[tuple[str, str]] = []
        for core in sorted(self._core):
            key = f"pypi:{core}"
            etag = (await self._etags([key])).get(key)
            try:
                answer, project = await self._pypi.get_project_conditional(core, etag)
            except ApiError as exc:
                log.info("radar: could not read %s from PyPI: %s", core, exc.message)
                continue
            if answer.not_modified or project is None:
                continue
            version = project.version
            if self._cfg.include_prereleases:
                try:
                    index = await self._pypi.get_index(core)
                    candidates = [v for v in index.releases() if not newer(version, v)]
                    version = max(candidates, key=_version_key, default=version)
                except ApiError:
                    pass
            async with self._db() as s:
                if answer.etag:
                    stmt = dialect_insert(s, RadarEtag).values(key=key, etag=answer.etag, fetched_at=now)
                    await s.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                               set_={"etag": answer.etag, "fetched_at": now}))
                if not version or len(version) > 100 or (is_prerelease(version) and not self._cfg.include_prereleases):
                    await s.commit()
                    continue
                seen = await s.get(RadarCore, core)
                if seen is None:
                    # First sight: the baseline, not news.
                    s.add(RadarCore(project=core, version=version, seen_at=now))
                elif newer(version, seen.version):
                    seen.version, seen.seen_at = version, now
                    # The durable claim, written with the new version in one transaction: whatever
                    # happens next, this release gets exactly one post attempt chain.
                    await s.execute(
                        dialect_insert(s, RadarPost)
                        .values(project=core, version=version, state="pending", capped=0, created_at=now)
                        .on_conflict_do_nothing()
                    )
                    found.append((core, version))
                await s.commit()
        return found

    # ----- radar posts -------------------------------------------------------------------------

    async def post_pending(self, send: Callable[[RadarAlert, bool], Awaitable[int | None]]) -> list[RadarAlert]:
        """Post each queued core release once. `send(alert, reclaimed)` posts and returns the message id;
        `reclaimed` says an earlier process may have posted it before dying (the cog then checks first)."""
        now = self._clock.now()
        async with self._db() as s:
            queued = (
                await s.execute(
                    select(RadarPost.project, RadarPost.version, RadarPost.state).where(
                        or_(RadarPost.state == "pending",
                            (RadarPost.state == "posting") & (RadarPost.lease_until < now))
                    )
                )
            ).all()
        posted: list[RadarAlert] = []
        for core, version, state in queued:
            async with self._db() as s:
                claimed = await s.execute(
                    update(RadarPost)
                    .where(RadarPost.project == core, RadarPost.version == version,
                           or_(RadarPost.state == "pending",
                               (RadarPost.state == "posting") & (RadarPost.lease_until < now)))
                    .values(state="posting", lease_until=now + LEASE)
                )
                await s.commit()
            if claimed.rowcount != 1:
                continue  # another process took it
            alert = RadarAlert(core, version, await self.capped_by(core, version))
            message_id = await send(alert, state == "posting") if alert.capped else None
            async with self._db() as s:
                await s.execute(
                    update(RadarPost)
                    .where(RadarPost.project == core, RadarPost.version == version, RadarPost.state == "posting")
                    .values(state="posted" if alert.capped else "nothing", message_id=message_id,
                            capped=len(alert.capped), posted_at=self._clock.now(), lease_until=None)
                )
                await s.commit()
            if alert.capped:
                posted.append(alert)
        return posted

    async def capped_by(self, core: str, version: str) -> list[CappedProject]:
        """Eco projects whose latest release excludes `core` `version`, with the requirement that does."""
        async with self._db() as s:
            rows = (await s.scalars(select(RadarProject).where(RadarProject.on_pypi.is_(True))
                                    .order_by(RadarProject.full_name))).all()
        out = []
        for row in rows:
            for req in load_requirements(row.requires_json):
                if req.name == core and not req.admits(version):
                    out.append(CappedProject(row.full_name, row.pypi_name or "", row.version or "",
                                             req.spec, req.extra))
                    break
        return out

    # ----- answers from the database -----------------------------------------------------------

    async def _newest_core(self) -> dict[str, str]:
        async with self._db() as s:
            return {r.project: r.version for r in (await s.scalars(select(RadarCore))).all()}

    def _health(self, row: RadarProject, newest: dict[str, str], now: datetime) -> ProjectHealth:
        verdicts = [
            Verdict(req, newest.get(req.name), req.admits(newest[req.name]) if req.name in newest else True)
            for req in load_requirements(row.requires_json)
        ]
        flags: list[Flag] = []
        for v in verdicts:
            if not v.admits and v.newest:
                flags.append(Flag("cap", f"{v.requirement.name}{v.requirement.spec} excludes "
                                         f"{display(v.requirement.name)} {v.newest}"))
        if row.ci_state in FAILED_RUNS:
            flags.append(Flag("ci", f"latest CI run on {row.default_branch} failed"))
        if row.released_at is not None and row.unreleased_commits:
            months = months_between(row.released_at, now)
            if months >= self._cfg.stale_release_months:
                flags.append(Flag("stale", f"no release for {months} months, "
                                           f"unreleased commits on {row.default_branch}"))
        return ProjectHealth(
            repo_id=row.repo_id, full_name=row.full_name, pypi_name=row.pypi_name, on_pypi=row.on_pypi,
            version=row.version, released_at=row.released_at, verdicts=verdicts,
            requires_dropped=row.requires_dropped, ci_state=row.ci_state, ci_url=row.ci_url,
            default_branch=row.default_branch, unreleased_commits=row.unreleased_commits,
            open_issues=row.open_issues, open_prs=row.open_prs, issues_capped=row.issues_capped,
            oldest_pr_number=row.oldest_pr_number, oldest_pr_title=row.oldest_pr_title,
            oldest_pr_at=row.oldest_pr_at, checked_at=row.checked_at, flags=flags,
        )

    async def project_health(self, query: str | int) -> ProjectHealth | None:
        """One project by repository id, or by repository/PyPI name (as typed in /eco health)."""
        async with self._db() as s:
            rows = (await s.scalars(select(RadarProject))).all()
        if isinstance(query, int):
            row = next((r for r in rows if r.repo_id == query), None)
        else:
            wanted = normalize(query.strip().rsplit("/", 1)[-1])[:200]
            row = next((r for r in rows if normalize(r.full_name.split("/", 1)[1]) == wanted), None) or next(
                (r for r in rows if r.pypi_name and normalize(r.pypi_name) == wanted), None)
        if row is None:
            return None
        return self._health(row, await self._newest_core(), self._clock.now())

    async def org_health(self) -> list[ProjectHealth]:
        """Every project, worst first (then by name)."""
        async with self._db() as s:
            rows = (await s.scalars(select(RadarProject))).all()
        newest, now = await self._newest_core(), self._clock.now()
        out = [self._health(r, newest, now) for r in rows]
        out.sort(key=lambda h: (-h.score, h.full_name.lower()))
        return out

    async def current_flags(self) -> dict[str, list[Flag]]:
        """repository full name -> its flags now (for the maintainers' digest). Database only."""
        return {h.full_name: h.flags for h in await self.org_health() if h.flags}

    async def newest_core(self) -> dict[str, str]:
        return await self._newest_core()

    async def project_names(self, prefix: str = "", limit: int = 25) -> list[str]:
        async with self._db() as s:
            names = sorted(n.split("/", 1)[1] for n in (await s.scalars(select(RadarProject.full_name))).all())
        needle = prefix.strip().lower()
        starts = [n for n in names if n.lower().startswith(needle)]
        return (starts + [n for n in names if needle in n.lower() and n not in starts])[:limit]


def _version_key(version: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
