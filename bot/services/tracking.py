"""Tracking approved transfers to completion: automatic checklist checks, manual ticks, stall nudges.

`TrackingService.run_pass()` is what the review cog's background loop calls (tests call it
directly). It only reads what is still open, through the clients' ETag caches, so an unchanged
world answers 304 everywhere and costs no GitHub rate limit. Any API error leaves the request as
it was: it is simply checked again on the next pass.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.models.review import ChecklistItem, ReviewNudge, ReviewTracking
from bot.db.models.transfers import TransferRequest
from bot.errors import InvalidInput, NotAllowed, NotFoundError
from bot.github import GitHubClient
from bot.http import ApiError, Forbidden, NotFound, RateLimited, Unavailable
from bot.pypi import ProjectQuarantined, PyPIClient, PyPIProject
from bot.services.review import (
    ITEM_BY_KEY,
    TRACKED,
    InvitationResult,
    ReviewService,
    ensure_not_requester,
    items_for,
    requester_login,
    start_tracking,
)
from bot.services.states import audit, transition

log = logging.getLogger(__name__)

NOTICE = re.compile(r"pallets[\s-]+community[\s-]+ecosystem", re.IGNORECASE)
PUBLISH_WORKFLOW = re.compile(r"(publish|release|pypi|deploy)[^/]*\.ya?ml$", re.IGNORECASE)
REPO_ITEMS = frozenset({"repo_transferred", "publish_workflow", "readme_notice"})
PYPI_ITEMS = frozenset({"pypi_owner", "adoption_own_name", "release"})
# Checked the same way: the trusted owners hold the project (an adoption's own name, or the usual one).
OWNER_ITEMS = ("pypi_owner", "adoption_own_name")


@dataclass
class RequestProgress:
    request_id: int
    completed: list[str] = field(default_factory=list)
    new_state: str | None = None
    nudges: list[str] = field(default_factory=list)  # "requester", "maintainers"
    error_changed: bool = False  # a failing check started failing differently, or works again

    @property
    def changed(self) -> bool:
        return bool(self.completed or self.new_state or self.nudges or self.error_changed)


@dataclass
class TrackingResult:
    checked: int = 0
    progress: list[RequestProgress] = field(default_factory=list)
    invitations: list[InvitationResult] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    aborted: str | None = None  # why the pass stopped early (outage, rate limit)

    @property
    def changed_ids(self) -> list[int]:
        ids = [p.request_id for p in self.progress if p.changed] + [i.request_id for i in self.invitations]
        return sorted(set(ids))


@dataclass(frozen=True)
class TickResult:
    request_id: int
    key: str
    newly_done: bool
    new_state: str | None


@dataclass
class _Observation:
    done: dict[str, str] = field(default_factory=dict)  # item key -> note
    repo_id: int | None = None
    repo_full_name: str | None = None


class TrackingService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        github: GitHubClient,
        pypi: PyPIClient,
        clock: object,
        settings: Settings,
    ) -> None:
        self.db = db
        self.github = github
        self.pypi = pypi
        self.clock = clock
        self.settings = settings
        self.review = ReviewService(db, clock, settings, github)
        # The org's member logins (lower case), listed once per pass on first need.
        self._members: set[str] | None = None
        # GitHub asked for a wait longer than the loop's interval (a secondary limit backing off):
        # no pass starts before it is over.
        self._paused_until: datetime | None = None

    def _now(self) -> datetime:
        return self.clock.now()  # type: ignore[attr-defined, no-any-return]

    # ----- the pass ------------------------------------------------------------------------------

    async def run_pass(self) -> TrackingResult:
        result = TrackingResult()
        if self._paused_until is not None and self._now() < self._paused_until:
            result.aborted = f"waiting for GitHub's rate limit until {self._paused_until:%H:%M} UTC"
            return result
        self._members = None  # re-listed (conditionally) each pass, so a new member shows up next pass
        for request_id in await self.review.pending_invitations():
            invitation = await self.review.ensure_invitation(request_id)
            if invitation.report:
                result.invitations.append(invitation)
        for request_id in await self.review.lapsed_invitations():  # invitations expire after 7 days
            invitation = await self.review.recheck_invitation(request_id)
            if invitation.report:
                result.invitations.append(invitation)
        async with self.db() as session:
            ids = list(
                await session.scalars(
                    select(TransferRequest.id).where(TransferRequest.state.in_(TRACKED)).order_by(TransferRequest.id)
                )
            )
        for request_id in ids:
            try:
                progress = await self._track_one(request_id)
            except (RateLimited, Unavailable) as exc:
                # Everything after this would fail the same way: stop, and try again next pass.
                if await self._record_error(request_id, exc.message):
                    result.progress.append(RequestProgress(request_id, error_changed=True))
                result.errors[request_id] = exc.message
                result.aborted = exc.message
                if (isinstance(exc, RateLimited) and exc.secondary
                        and exc.retry_after > self.settings.tracking.interval_minutes * 60):
                    self._paused_until = self._now() + timedelta(seconds=exc.retry_after)
                break
            except ApiError as exc:
                # Specific to this request (the repository is gone, say): it may never heal by itself,
                # so the stall reminders still run and bring a human in.
                changed = await self._record_error(request_id, exc.message)
                result.errors[request_id] = exc.message
                nudges = await self._nudges_despite_error(request_id)
                if nudges or changed:
                    result.progress.append(RequestProgress(request_id, nudges=nudges, error_changed=changed))
                continue
            except Exception:
                # Whatever one request's data provokes (an answer shaped unlike the docs) stays with that
                # request: the pass goes on with the others.
                log.exception("tracking request %s failed", request_id)
                message = "The bot could not read what GitHub or PyPI said about it."
                if await self._record_error(request_id, message):
                    result.progress.append(RequestProgress(request_id, error_changed=True))
                result.errors[request_id] = message
                continue
            result.checked += 1
            if progress is not None and progress.changed:
                result.progress.append(progress)
        return result

    async def _record_error(self, request_id: int, message: str) -> bool:
        """Store the error; True when it differs from the one stored (the card then shows it)."""
        log.warning("tracking request %s: %s", request_id, message)
        async with self.db() as session:
            result = await session.execute(
                update(ReviewTracking)
                .where(
                    ReviewTracking.request_id == request_id,
                    or_(ReviewTracking.last_error.is_(None), ReviewTracking.last_error != message),
                )
                .values(last_error=message)
            )
            await session.commit()
            return result.rowcount == 1

    async def _nudges_despite_error(self, request_id: int) -> list[str]:
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None or request.state not in TRACKED:
                return []
            nudges = await self._nudges(session, request_id, self._now())
            await session.commit()
            return nudges

    async def _track_one(self, request_id: int) -> RequestProgress | None:
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None or request.state not in TRACKED:
                return None
            tracking = await session.get(ReviewTracking, request_id)
            if tracking is None or tracking.approved_at is None:
                # Approved some other way (CLI, an older version): start its checklist now.
                await start_tracking(session, request, request.decided_at or self._now())
                await session.commit()
                tracking = await session.get(ReviewTracking, request_id, populate_existing=True)
                assert tracking is not None
            rows = (
                await session.execute(
                    select(ChecklistItem.key, ChecklistItem.done_at).where(ChecklistItem.request_id == request_id)
                )
            ).all()
            undone = {key for key, done_at in rows if done_at is None}
            transferred_at = next((done_at for key, done_at in rows if key == "repo_transferred"), None)
        observation = await self._observe(request, tracking, undone, transferred_at)
        now = self._now()
        async with self.db() as session:
            progress = RequestProgress(request_id, error_changed=tracking.last_error is not None)
            for key, note in observation.done.items():
                changed = await session.execute(
                    update(ChecklistItem)
                    .where(
                        ChecklistItem.request_id == request_id,
                        ChecklistItem.key == key,
                        ChecklistItem.done_at.is_(None),
                    )
                    .values(done_at=now, done_by=None, note=note)
                )
                if changed.rowcount == 1:
                    progress.completed.append(key)
            values: dict[str, object] = {"last_checked_at": now, "last_error": None}
            if observation.repo_id is not None:
                values["repo_id"] = observation.repo_id
            if observation.repo_full_name is not None:
                values["repo_full_name"] = observation.repo_full_name
            if progress.completed:
                values["last_progress_at"] = now
            await session.execute(
                update(ReviewTracking).where(ReviewTracking.request_id == request_id).values(**values)
            )
            current = await session.get(TransferRequest, request_id)
            assert current is not None
            progress.new_state = await apply_progress(session, current, now, actor_id=None)
            if not progress.completed and progress.new_state is None:
                progress.nudges = await self._nudges(session, request_id, now)
            await session.commit()
            return progress

    async def _observe(
        self, request: TransferRequest, tracking: ReviewTracking, undone: set[str], transferred_at: datetime | None
    ) -> _Observation:
        obs = _Observation()
        org = self.settings.github.org
        login = requester_login(request)
        if "org_member" in undone and login and await self._is_member(org, login):
            obs.done["org_member"] = f"{login} is a member of {org}"
        if undone & REPO_ITEMS:
            await self._observe_repo(request, tracking, undone, obs)
        if request.pypi_project and undone & PYPI_ITEMS:
            await self._observe_pypi(request, tracking, undone, obs, transferred_at)
        return obs

    async def _is_member(self, org: str, login: str) -> bool:
        """From one conditional listing of the org per pass, not one request per requester:
        asking about a non-member answers 404, which GitHub can't turn into a free 304."""
        if self._members is None:
            self._members = {m.lower() for m in await self._list_members(org)}
        return login.lower() in self._members

    async def _list_members(self, org: str) -> list[str]:
        # The admin token sees concealed members too; the bot's own token sees what its account
        # can (everyone if it is in the org, else only public members).
        token = self.settings.secrets.github_org_admin_token
        if token:
            try:
                return await self.github.list_org_members(org, token=token)
            except Forbidden:
                log.warning("the org admin token can't list %s members; using the bot's token", org)
        return await self.github.list_org_members(org)

    async def _observe_repo(
        self, request: TransferRequest, tracking: ReviewTracking, undone: set[str], obs: _Observation
    ) -> None:
        repo_id = tracking.repo_id or request.github_repo_id
        if repo_id is None:
            repo_id = (await self.github.get_repo(request.repo_owner, request.repo_name)).id
        try:
            # Repository ids never change: this follows the repo through transfers and renames.
            repo = await self.github.get_repo_by_id(repo_id)
        except NotFound:
            raise ApiError(404, "The repository can't be found any more (deleted or made private?).") from None
        obs.repo_id, obs.repo_full_name = repo.id, repo.full_name
        org = self.settings.github.org
        if "repo_transferred" in undone and repo.owner_login.lower() == org.lower():
            obs.done["repo_transferred"] = f"now at {repo.full_name}"
        owner, name = repo.full_name.split("/", 1)
        if "publish_workflow" in undone:
            found = [p for p in await self.github.list_workflows(owner, name) if PUBLISH_WORKFLOW.search(p)]
            if found:
                obs.done["publish_workflow"] = found[0]
        if "readme_notice" in undone:
            readme = await self.github.get_readme(owner, name)
            if readme and NOTICE.search(readme):
                obs.done["readme_notice"] = "notice found in the README"

    async def _observe_pypi(
        self,
        request: TransferRequest,
        tracking: ReviewTracking,
        undone: set[str],
        obs: _Observation,
        transferred_at: datetime | None,
    ) -> None:
        assert request.pypi_project is not None
        name = request.pypi_project
        project = None
        owner_key = next((key for key in OWNER_ITEMS if key in undone), None)
        if owner_key is not None:
            project = await self._pypi_project(name)
            # `ownership.roles` lists direct roles only: rights through a PyPI organisation never show
            # there, so a project in one the maintainers hold counts as handed over.
            trusted_orgs = {o.lower() for o in self.settings.pypi.trusted_organizations}
            trusted = {u.lower() for u in self.settings.pypi.trusted_owners}
            owners = [u for u in project.users_with_role("Owner") if u.lower() in trusted]
            if project.organization and project.organization.lower() in trusted_orgs:
                obs.done[owner_key] = f"in the PyPI organisation {project.organization}"
            elif owners:
                obs.done[owner_key] = f"{', '.join(owners)} is Owner"
        if "release" in undone and tracking.approved_at is not None:
            release = await self._release_from_new_home(name, project, tracking, obs, transferred_at)
            if release is not None:
                when, version = release
                obs.done["release"] = f"{version} released {when:%Y-%m-%d}"

    async def _pypi_project(self, name: str) -> PyPIProject:
        try:
            return await self.pypi.get_project(name)
        except ProjectQuarantined:
            raise ApiError(404, f"PyPI has quarantined {name}: its admins must lift that first.") from None
        except NotFound:
            raise ApiError(404, f"PyPI has no project called {name}.") from None

    async def _release_from_new_home(
        self,
        name: str,
        project: PyPIProject | None,
        tracking: ReviewTracking,
        obs: _Observation,
        transferred_at: datetime | None,
    ) -> tuple[datetime, str] | None:
        """The newest release newer than the transfer: one cut from the old home just before moving
        still points PyPI at the old repository (ARCHITECTURE.md#after-the-github-move). Yanked releases don't count."""
        assert tracking.approved_at is not None
        if "repo_transferred" in obs.done:
            # Seen in the org for the first time: it moved after the last look, which saw it outside.
            since_move = max(tracking.last_checked_at or tracking.approved_at, tracking.approved_at)
        elif transferred_at is not None:
            # Moved earlier. A release PyPI only shows now (its JSON is cached ~15 min) may have been cut
            # up to one pass before the bot noticed the move.
            since_move = transferred_at - timedelta(minutes=self.settings.tracking.interval_minutes)
        else:
            return None  # still at the old home
        # Versions and upload times from the simple index: the JSON API's `releases` key is deprecated.
        try:
            index = await self.pypi.get_index(name)
        except NotFound:
            raise ApiError(404, f"PyPI has no project called {name}.") from None
        if index.status == "quarantined":
            raise ApiError(404, f"PyPI has quarantined {name}: its admins must lift that first.")
        newer = sorted((when, version) for version, when in index.releases().items() if when > tracking.approved_at)
        if not newer:
            return None
        if newer[-1][0] > since_move:
            return newer[-1]
        # Only releases from before the move was seen: they count if PyPI's links already point at the
        # new home, which is what the release is for.
        project = project or await self._pypi_project(name)
        full_name = obs.repo_full_name or tracking.repo_full_name
        shows_new_home = full_name is not None and _links_to(project, self.settings.github.web_url, full_name)
        return newer[-1] if shows_new_home else None

    async def _nudges(self, session: AsyncSession, request_id: int, now: datetime) -> list[str]:
        """Stall reminders: requester after N days without progress, maintainers after 2N; once each."""
        tracking = await session.get(ReviewTracking, request_id)
        since = (tracking.last_progress_at or tracking.approved_at) if tracking else None
        if since is None:
            return []
        after = timedelta(days=self.settings.tracking.nudge_after_days)
        sent = set(
            await session.scalars(
                select(ReviewNudge.level).where(
                    ReviewNudge.request_id == request_id, ReviewNudge.stalled_since == since
                )
            )
        )
        due = []
        if now - since >= after and "requester" not in sent:
            due.append("requester")
        if now - since >= 2 * after and "maintainers" not in sent:
            due.append("maintainers")
        for level in due:
            session.add(ReviewNudge(request_id=request_id, level=level, stalled_since=since, sent_at=now))
            await audit(session, request_id, actor_id=None, action=f"tracking.nudge_{level}", now=now)
        return due

    # ----- manual ticks --------------------------------------------------------------------------

    async def tick(
        self, request_id: int, key: str, user_id: int, is_maintainer: bool, note: str | None = None
    ) -> TickResult:
        """A maintainer marks an item done (the manual ones, or one the bot can't see). Audited."""
        if not is_maintainer:
            raise NotAllowed("Only Pallets maintainers can tick checklist items.")
        if key not in ITEM_BY_KEY:
            raise InvalidInput(f"Unknown checklist item `{key}`.")
        if note is not None and len(note) > 500:
            # Refused rather than silently cut: the audit log keeps what the maintainer typed.
            raise InvalidInput(f"Keep the note under 500 characters (it has {len(note)}).")
        now = self._now()
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None:
                raise NotFoundError(f"There is no transfer request #{request_id}.")
            ensure_not_requester(request, user_id, "tick the steps of")
            if request.state not in TRACKED:
                raise InvalidInput(f"Request #{request_id} is not an approved transfer in progress.")
            if key not in {spec.key for spec in items_for(request)}:
                raise InvalidInput(f"`{key}` is not on the checklist of request #{request_id}.")
            changed = await session.execute(
                update(ChecklistItem)
                .where(
                    ChecklistItem.request_id == request_id,
                    ChecklistItem.key == key,
                    ChecklistItem.done_at.is_(None),
                )
                .values(done_at=now, done_by=user_id, note=(note or "ticked by a maintainer")[:500])
            )
            newly = changed.rowcount == 1
            new_state = None
            if newly:
                await audit(session, request_id, actor_id=user_id, action=f"tracking.tick.{key}", reason=note, now=now)
                await session.execute(
                    update(ReviewTracking).where(ReviewTracking.request_id == request_id).values(last_progress_at=now)
                )
                await session.refresh(request)
                new_state = await apply_progress(session, request, now, actor_id=user_id)
            await session.commit()
            return TickResult(request_id, key, newly, new_state)

    async def claim_announcement(self, request_id: int) -> bool:
        """True once per finished request: whoever gets it posts the announcement."""
        async with self.db() as session:
            result = await session.execute(
                update(ReviewTracking)
                .where(ReviewTracking.request_id == request_id, ReviewTracking.announced_at.is_(None))
                .values(announced_at=self._now())
            )
            await session.commit()
            return result.rowcount == 1


async def apply_progress(
    session: AsyncSession, request: TransferRequest, now: datetime, *, actor_id: int | None
) -> str | None:
    """approved -> transferring at the first completed item; -> done when all are. Returns the new state."""
    items = (await session.scalars(select(ChecklistItem).where(ChecklistItem.request_id == request.id))).all()
    if not items:
        return None
    moved = None
    if request.state == "approved" and any(i.done_at for i in items):
        if (await transition(session, request, "transferring", actor_id=actor_id, action="tracking.started",
                             now=now, strict=False)).changed:
            moved = "transferring"
    if request.state in TRACKED and all(i.done_at for i in items):
        if (await transition(session, request, "done", actor_id=actor_id, action="tracking.done",
                             now=now, strict=False)).changed:
            moved = "done"
    return moved


def _links_to(project: PyPIProject, web_url: str, full_name: str) -> bool:
    """True when one of the project's links on PyPI points at the repository `full_name`."""
    host = re.sub(r"^[a-z]+://", "", web_url.rstrip("/"), flags=re.IGNORECASE)
    pattern = re.compile(rf"://{re.escape(host)}/{re.escape(full_name)}(?:\.git)?(?:[/#?]|$)", re.IGNORECASE)
    return any(pattern.search(url) for url in [*project.project_urls.values(), project.home_page or ""])
