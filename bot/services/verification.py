"""Ownership verification: prove that a request's requester controls the repository on GitHub.

Three ways (ARCHITECTURE.md#github-facts): GitHub's device flow (the user signs in; with their token the bot reads
`GET /user` and `GET /repos/{o}/{r}`), a one-time repository topic (only maintain/admin rights can
add one), and a maintainer's manual verification (audited). It also reports the requester's role on
PyPI (ARCHITECTURE.md#pypi-facts).

The device flow's access token only ever lives in local variables of `_conclude_with_token`: it is
never stored, never logged (it joins the log secret filter while in memory) and revoked when the
OAuth client secret is configured. Nothing is marked verified when GitHub fails.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.config import Settings
from bot.db.models.join import JoinRequest
from bot.db.models.transfers import OPEN_STATES, TransferEvent, TransferRequest
from bot.db.models.verification import Verification
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFoundError, ServiceUnavailable
from bot.github import GitHubClient, Repo
from bot.http import ApiError, NotFound, RateLimited
from bot.logging_setup import SecretFilter
from bot.pypi import ProjectQuarantined, PyPIClient
from bot.services import device_flow
from bot.services import verification_text as text
from bot.services.states import LABELS, audit

log = logging.getLogger(__name__)

DEVICE, TOPIC, MANUAL = "device", "topic", "manual"
PENDING, VERIFIED, FAILED, EXPIRED = "pending", "verified", "failed", "expired"
NONCE_PREFIX = "pallets-eco-verify-"
NONCE_ALPHABET = string.ascii_lowercase + string.digits
NONCE_LENGTH = 6
NONCE_TTL = timedelta(hours=24)
SLOW_DOWN_STEP = 5  # seconds GitHub asks us to add on `slow_down`
# What a verified request records in TransferRequest.verification_method.
METHOD_OWNER, METHOD_ORG_ADMIN, METHOD_TOPIC, METHOD_MANUAL = (
    "github-owner",
    "github-org-admin",
    "repo-topic",
    "manual",
)
# Requests another member may take over by proving ownership, and the audit actions of a takeover.
CLAIMABLE_STATES = ("draft", "submitted", "under_review")
TAKEN_OVER, TAKEOVER_TOLD = "taken_over", "taken_over_told"
# A topic on an organisation's repository: maintain access only (bot.services.review needs a confirm).
METHOD_TOPIC_MAINTAIN = "repo-topic-maintain"


@dataclass(frozen=True)
class RequestSummary:
    id: int
    repo: str  # "owner/name" as the requester typed it
    repo_key: str
    state: str
    verified_at: datetime | None
    verification_method: str | None
    verified_github_login: str | None
    verification_note: str | None
    pypi_project: str | None
    pypi_username: str | None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def can_prove_login(self) -> bool:
        """Verified by a repository topic: signing in with GitHub still proves the login, so
        the maintainers need no confirm step for the invitation."""
        return self.verified and self.verified_github_login is None and self.verification_method in (
            METHOD_TOPIC, METHOD_TOPIC_MAINTAIN)


@dataclass(frozen=True)
class DeviceStart:
    verification_id: int
    request_id: int
    repo: str
    user_code: str
    verification_uri: str
    expires_at: datetime
    interval: int


@dataclass(frozen=True)
class TopicChallenge:
    verification_id: int
    request_id: int
    repo: str
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class Outcome:
    verification_id: int | None
    request_id: int
    user_id: int
    method: str
    state: str  # pending / verified / failed / expired
    code: str  # "owner", "org_admin", "topic", "manual", "not_owner", "access_denied", ...
    message: str  # shown to the user as is
    github_login: str | None = None

    @property
    def verified(self) -> bool:
        return self.state == VERIFIED

    @property
    def finished(self) -> bool:
        return self.state != PENDING


@dataclass(frozen=True)
class PyPICheck:
    project: str | None
    username: str | None
    role: str | None  # "Owner", "Maintainer" or None (no role, or not checked)
    links_repo: bool | None
    warning: bool  # a plain warning the requester must act on
    message: str


def new_nonce() -> str:
    return NONCE_PREFIX + "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def ownership_method(login: str, repo: Repo) -> str | None:
    """How a GitHub user may transfer `repo`: its personal owner, or an admin of an org's repository."""
    if repo.owner_type == "Organization":
        return METHOD_ORG_ADMIN if repo.permissions_admin else None
    return METHOD_OWNER if repo.owner_login.lower() == login.lower() else None


def _summary(req: TransferRequest) -> RequestSummary:
    return RequestSummary(
        id=req.id,
        repo=req.repo_full_name,
        repo_key=req.repo_key,
        state=req.state,
        verified_at=req.verified_at,
        verification_method=req.verification_method,
        verified_github_login=req.verified_github_login,
        verification_note=req.verification_note,
        pypi_project=req.pypi_project,
        pypi_username=req.pypi_username,
    )


def _outcome(row: Verification) -> Outcome:
    return Outcome(
        verification_id=row.id,
        request_id=row.request_id,
        user_id=row.user_id,
        method=row.method,
        state=row.state,
        code=row.result or row.state,
        message=row.note or text.STILL_WAITING,
        github_login=row.github_login,
    )


class VerificationService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        github: GitHubClient,
        clock: Clock,
        settings: Settings,
        *,
        pypi: PyPIClient | None = None,
        secret_filter: SecretFilter | None = None,
    ) -> None:
        self._db = db
        self._github = github
        self._clock = clock
        self._settings = settings
        self._pypi = pypi
        self._filter = secret_filter
        self._busy: set[int] = set()  # verification ids being polled right now
        self._starting: set[int] = set()  # users whose device flow is being requested from GitHub
        self._presses: dict[tuple[int, str], datetime] = {}  # (user, button) -> last press that asked GitHub/PyPI
        self._pypi_seen: dict[tuple[int, int], tuple[datetime, PyPICheck]] = {}  # (user, request) -> last answer

    @property
    def device_flow_available(self) -> bool:
        return bool(self._settings.github.oauth_client_id)

    # ----- requests -----------------------------------------------------------------------------

    async def _own_request(self, session: AsyncSession, request_id: int, user_id: int) -> TransferRequest:
        req = await session.get(TransferRequest, request_id)
        if req is None or req.requester_id != user_id:
            raise NotFoundError(text.NOT_YOURS)
        if not req.is_open:
            raise Conflict(f"This request is {LABELS.get(req.state, req.state)}: there is nothing to verify.")
        return req

    async def open_requests(self, user_id: int) -> list[RequestSummary]:
        async with self._db() as session:
            rows = await session.scalars(
                select(TransferRequest)
                .where(TransferRequest.requester_id == user_id, TransferRequest.state.in_(OPEN_STATES))
                .order_by(TransferRequest.id.desc())
            )
            return [_summary(r) for r in rows]

    async def pick_request(self, user_id: int, request_id: int | None) -> RequestSummary:
        """The caller's request: the one they named, else their only open one."""
        if request_id is not None:
            async with self._db() as session:
                return _summary(await self._own_request(session, request_id, user_id))
        mine = await self.open_requests(user_id)
        if not mine:
            raise NotFoundError(text.NO_OPEN_REQUEST)
        if len(mine) > 1:
            raise InvalidInput(text.PICK_ONE)
        return mine[0]

    def take_press(self, user_id: int, button: str) -> None:
        """A press of "Check" or "Verify ownership" costs a GitHub or PyPI call: one per
        `github.check_cooldown_seconds`, user and button (in memory: a short window a restart may reset)."""
        cooldown = self._settings.github.check_cooldown_seconds
        if cooldown <= 0:
            return
        now = self._clock.now()
        window = timedelta(seconds=cooldown)
        last = self._presses.get((user_id, button))
        if last is not None and now - last < window:
            wait = max(1, int((last + window - now).total_seconds() + 0.999))
            raise Conflict(text.press_cooldown(wait))
        if len(self._presses) > 1000:
            self._presses = {k: v for k, v in self._presses.items() if now - v < window}
        self._presses[(user_id, button)] = now

    async def pypi_check_for(self, request_id: int, user_id: int) -> PyPICheck:
        """`pypi_check` for a press of "Verify ownership" / `/eco verify`: within
        `github.check_cooldown_seconds` of this member's last one for the request, the answer PyPI gave
        then is shown again instead of asking PyPI once more."""
        cooldown = self._settings.github.check_cooldown_seconds
        now = self._clock.now()
        seen = self._pypi_seen.get((user_id, request_id))
        if cooldown > 0 and seen is not None and now - seen[0] < timedelta(seconds=cooldown):
            return seen[1]
        check = await self.pypi_check(request_id)
        if cooldown > 0:
            if len(self._pypi_seen) > 1000:
                window = timedelta(seconds=cooldown)
                self._pypi_seen = {k: v for k, v in self._pypi_seen.items() if now - v[0] < window}
            self._pypi_seen[(user_id, request_id)] = (now, check)
        return check

    # ----- device flow --------------------------------------------------------------------------

    async def start_device(self, request_id: int, user_id: int) -> DeviceStart:
        client_id = self._settings.github.oauth_client_id
        if not client_id:
            raise Conflict(text.DEVICE_NOT_CONFIGURED)
        async with self._db() as session:
            req = await self._own_request(session, request_id, user_id)
            if req.verified_at is not None and not _summary(req).can_prove_login:
                raise Conflict(text.already_verified(req.repo_full_name))
            repo, repo_key = req.repo_full_name, req.repo_key
            await self._check_sign_in_cooldown(session, user_id)
        if user_id in self._starting:
            raise Conflict(text.sign_in_cooldown(1))  # a second click while the first is with GitHub
        self._starting.add(user_id)
        try:
            return await self._start_device(client_id, request_id, user_id, repo, repo_key)
        finally:
            self._starting.discard(user_id)

    async def start_claim(self, request_id: int, user_id: int) -> DeviceStart:
        """Someone else's unverified request holds a repository the caller says they own: a device flow
        whose proof (owner, or admin of an organisation's repository) takes the repository over."""
        client_id = self._settings.github.oauth_client_id
        if not client_id:
            raise Conflict(text.DEVICE_NOT_CONFIGURED)
        async with self._db() as session:
            req = await session.get(TransferRequest, request_id)
            if req is None or req.state not in CLAIMABLE_STATES or req.verified_at is not None:
                raise Conflict(text.CLAIM_GONE)
            if req.requester_id == user_id:
                raise Conflict("This is your own request: press **Verify ownership** on it instead.")
            repo, repo_key = req.repo_full_name, req.repo_key
            await self._check_sign_in_cooldown(session, user_id)
            waiting = list(await session.scalars(
                select(TransferRequest.state).where(
                    TransferRequest.requester_id == user_id, TransferRequest.state.in_(CLAIMABLE_STATES)
                )
            ))
            cap = self._settings.review.max_open_per_user
            if "draft" not in waiting and len(waiting) >= cap:
                # The takeover would start a new draft: the per-user cap applies (review.max_open_per_user).
                raise Conflict(f"You already have {len(waiting)} requests waiting for a decision; at most {cap} at "
                               "a time. Withdraw one with `/eco withdraw` first.")
        if user_id in self._starting:
            raise Conflict(text.sign_in_cooldown(1))
        self._starting.add(user_id)
        try:
            return await self._start_device(client_id, request_id, user_id, repo, repo_key)
        finally:
            self._starting.discard(user_id)

    async def _check_sign_in_cooldown(self, session: AsyncSession, user_id: int) -> None:
        """Each "Sign in with GitHub" click costs a GitHub call and a database row: one per
        `github.sign_in_cooldown_seconds` and user. Counted from the database, so a restart
        doesn't reset it."""
        last_verify = await session.scalar(
            select(func.max(Verification.created_at)).where(
                Verification.user_id == user_id, Verification.method == DEVICE
            )
        )
        # `/eco join`'s sign-ins count too (its own check counts these rows): one cooldown for both buttons.
        last_join = await session.scalar(
            select(func.max(JoinRequest.device_started_at)).where(JoinRequest.requester_id == user_id))
        last = max((t for t in (last_verify, last_join) if t is not None), default=None)
        device_flow.check_cooldown(last, self._clock.now(), self._settings.github.sign_in_cooldown_seconds)

    async def _start_device(
        self, client_id: str, request_id: int, user_id: int, repo: str, repo_key: str
    ) -> DeviceStart:
        code = await device_flow.request_code(self._github, client_id)
        self._hide(code.device_code)
        now = self._clock.now()
        async with self._db() as session:
            # One live device flow per request and user: starting again replaces the older one.
            await session.execute(
                update(Verification)
                .where(
                    Verification.request_id == request_id,
                    Verification.user_id == user_id,
                    Verification.method == DEVICE,
                    Verification.state == PENDING,
                )
                .values(state=EXPIRED, result="replaced", note=text.REPLACED, device_code=None,
                        next_poll_at=None, notified_at=now, updated_at=now)
            )
            row = Verification(
                request_id=request_id,
                user_id=user_id,
                repo_key=repo_key,
                method=DEVICE,
                state=PENDING,
                device_code=code.device_code,
                user_code=code.user_code,
                verification_uri=code.verification_uri,
                interval=max(1, code.interval),
                next_poll_at=now + timedelta(seconds=max(1, code.interval)),
                expires_at=now + timedelta(seconds=code.expires_in),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.commit()
        log.info("device flow %s started for request %s", row.id, request_id)
        return DeviceStart(row.id, request_id, repo, code.user_code, code.verification_uri, row.expires_at,
                           row.interval or code.interval)

    async def poll_due(self) -> list[Outcome]:
        """Poll every pending device flow whose next poll is due; return the ones that finished."""
        now = self._clock.now()
        async with self._db() as session:
            ids = list(
                await session.scalars(
                    select(Verification.id)
                    .where(Verification.method == DEVICE, Verification.state == PENDING)
                    .where((Verification.next_poll_at <= now) | (Verification.expires_at <= now))
                    .order_by(Verification.next_poll_at)
                )
            )
        outcomes = [await self.poll_once(vid) for vid in ids]
        return [o for o in outcomes if o.finished]

    async def poll_once(self, verification_id: int) -> Outcome:
        """One poll of GitHub's token endpoint, if it is due (GitHub's `interval` is honoured)."""
        async with self._db() as session:
            row = await session.get(Verification, verification_id)
        if row is None or row.method != DEVICE:
            raise NotFoundError("That verification does not exist.")
        if row.state != PENDING or verification_id in self._busy:
            return _outcome(row)
        self._busy.add(verification_id)
        try:
            return await self._poll(row)
        finally:
            self._busy.discard(verification_id)

    async def _poll(self, row: Verification) -> Outcome:
        now = self._clock.now()
        if now >= row.expires_at:
            return await self._finish(row, EXPIRED, "expired_token", text.expired(row.last_error))
        if row.next_poll_at is not None and now < row.next_poll_at:
            return _outcome(row)
        client_id = self._settings.github.oauth_client_id
        if not client_id or not row.device_code:
            return await self._finish(row, FAILED, "not_configured", text.DEVICE_NOT_CONFIGURED)
        interval = row.interval or 5
        step = await device_flow.poll(self._github, client_id, row.device_code, interval)
        if step.token:
            return await self._conclude_with_token(row, step.token)
        if step.state is not None:
            return await self._finish(row, step.state, step.code or "unknown_error", step.message or "")
        return await self._reschedule(row, now, step.interval or interval, wait=step.wait or interval,
                                      error=step.error)

    async def _reschedule(
        self, row: Verification, now: datetime, interval: int, *, wait: float, error: str | None
    ) -> Outcome:
        async with self._db() as session:
            await session.execute(
                update(Verification)
                .where(Verification.id == row.id, Verification.state == PENDING)
                .values(interval=interval, next_poll_at=now + timedelta(seconds=wait),
                        last_error=error, updated_at=now)
            )
            await session.commit()
            fresh = await session.get(Verification, row.id, populate_existing=True)
        return _outcome(fresh or row)

    async def _conclude_with_token(self, row: Verification, token: str) -> Outcome:
        self._hide(token)
        owner, _, name = row.repo_key.partition("/")
        try:
            try:
                user = await self._github.get_authenticated_user(token)
                repo = await self._github.get_repo(owner, name, token=token)
            finally:
                await self._revoke(token)
        except NotFound:
            return await self._finish(row, FAILED, "repo_not_found", text.repo_not_visible(row.repo_key))
        except RateLimited as exc:
            return await self._finish(row, FAILED, "github_error", text.rate_limited(exc.retry_after))
        except ApiError as exc:
            log.warning("device flow %s: GitHub failed after sign-in (%s)", row.id, exc.status)
            return await self._finish(row, FAILED, "github_error", text.GITHUB_FAILED_AFTER_SIGN_IN)
        finally:
            self._unhide(token)
            del token  # dropped: nothing keeps the token past this point
        method = ownership_method(user.login, repo)
        if method is None:
            message = text.not_owner(user.login, repo)
            note = text.not_owner_note(user.login, repo)
            return await self._finish(row, FAILED, "not_owner", message, login=user.login, request_note=note)
        note = text.verified_note(method, user.login, repo)
        return await self._mark_verified(row, method, user.login, note, text.verified_message(method, user.login, repo))

    async def _revoke(self, token: str) -> None:
        client_id = self._settings.github.oauth_client_id
        client_secret = self._settings.secrets.github_oauth_client_secret
        if not client_id or not client_secret:
            return  # without the secret the token can't be revoked; it is simply dropped
        try:
            await self._github.revoke_token(client_id, client_secret, token)
        except ApiError as exc:
            log.warning("could not revoke a device-flow token (%s)", exc.status)

    # ----- finishing ----------------------------------------------------------------------------

    async def _finish(
        self,
        row: Verification,
        state: str,
        code: str,
        message: str,
        *,
        login: str | None = None,
        request_note: str | None = None,
    ) -> Outcome:
        now = self._clock.now()
        async with self._db() as session:
            # Conditional: a row that another poll already concluded keeps that conclusion.
            result = await session.execute(
                update(Verification)
                .where(Verification.id == row.id, Verification.state == PENDING)
                .values(state=state, result=code, note=message, github_login=login, device_code=None,
                        next_poll_at=None, updated_at=now)
            )
            if result.rowcount == 1 and request_note is not None:
                # Only the requester's own attempts are noted on the request (a failed claim is not).
                await session.execute(
                    update(TransferRequest)
                    .where(TransferRequest.id == row.request_id, TransferRequest.verified_at.is_(None),
                           TransferRequest.requester_id == row.user_id)
                    .values(verification_note=request_note, updated_at=now)
                )
            await session.commit()
            fresh = await session.get(Verification, row.id, populate_existing=True)
        if result.rowcount == 1:
            log.info("verification %s for request %s ended: %s (%s)", row.id, row.request_id, state, code)
        self._unhide(row.device_code)
        return _outcome(fresh or row)

    async def _mark_verified(
        self, row: Verification, method: str, login: str | None, note: str, message: str
    ) -> Outcome:
        now = self._clock.now()
        async with self._db() as session:
            req = await session.get(TransferRequest, row.request_id)
            if req is not None and req.requester_id != row.user_id and row.method == DEVICE:
                return await self._take_over(session, row, req, method, login, note, message)
            if req is None or not req.is_open or req.requester_id != row.user_id or req.repo_key != row.repo_key:
                # The proof was for another repository or requester than the request now names.
                return await self._finish(row, FAILED, "request_changed", text.REQUEST_CHANGED)
            claimed = await session.execute(
                update(Verification)
                .where(Verification.id == row.id, Verification.state == PENDING)
                .values(state=VERIFIED, result=method, note=message, github_login=login, device_code=None,
                        next_poll_at=None, updated_at=now)
            )
            if claimed.rowcount == 1:
                req.verified_at = now
                req.verification_method = method
                req.verified_github_login = login
                req.verification_note = note
                req.updated_at = now
                await audit(session, req.id, actor_id=row.user_id, action="verified", reason=note, now=now)
            await session.commit()
            fresh = await session.get(Verification, row.id, populate_existing=True)
        log.info("request %s verified by %s", row.request_id, method)
        self._unhide(row.device_code)
        return _outcome(fresh or row)

    async def _take_over(
        self, session: AsyncSession, row: Verification, held: TransferRequest, method: str, login: str | None,
        note: str, message: str,
    ) -> Outcome:
        """The caller proved they own (or administer) the repository an unverified request of someone
        else holds. One transaction: that request is withdrawn (a conditional UPDATE: a request verified
        or decided meanwhile is left alone), the caller's draft names the repository, verified, and both
        are audited. A process killed midway leaves all of it or none; the holder is told from the audit
        log afterwards (`untold_takeovers`), so a crash before the message only delays it."""
        now = self._clock.now()
        if method not in (METHOD_OWNER, METHOD_ORG_ADMIN) or login is None or held.repo_key != row.repo_key:
            await session.rollback()
            return await self._finish(row, FAILED, "request_changed", text.REQUEST_CHANGED)
        holder, from_state = held.requester_id, held.state
        withdrawn = await session.execute(
            update(TransferRequest)
            .where(
                TransferRequest.id == held.id,
                TransferRequest.requester_id == holder,
                TransferRequest.verified_at.is_(None),
                TransferRequest.state.in_(CLAIMABLE_STATES),
            )
            .values(state="withdrawn", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if withdrawn.rowcount != 1:
            await session.rollback()
            return await self._finish(row, FAILED, "claim_gone", text.CLAIM_GONE)
        session.add(TransferEvent(
            request_id=held.id, at=now, actor_id=row.user_id, action=TAKEN_OVER, from_state=from_state,
            to_state="withdrawn", reason=f"GitHub user {login} proved control of {held.repo_full_name} ({method})",
        ))
        mine = await session.scalar(
            select(TransferRequest)
            .where(TransferRequest.requester_id == row.user_id, TransferRequest.state == "draft")
            .order_by(TransferRequest.id.desc())
            .limit(1)
        )
        if mine is None:
            mine = TransferRequest(
                requester_id=row.user_id, guild_id=held.guild_id, state="draft", reason="", created_at=now,
            )
            session.add(mine)
        mine.repo_owner, mine.repo_name, mine.repo_key = held.repo_owner, held.repo_name, held.repo_key
        mine.github_username = login
        mine.report_json = mine.verdict = mine.report_error = None
        mine.verified_at, mine.verification_method = now, method
        mine.verified_github_login, mine.verification_note = login, note
        mine.updated_at = now
        await session.flush()
        await session.execute(
            update(Verification)
            .where(Verification.id == row.id, Verification.state == PENDING)
            .values(state=VERIFIED, result=method, request_id=mine.id, github_login=login, device_code=None,
                    next_poll_at=None, updated_at=now, note=text.took_over(message, held.repo_full_name, mine.id))
        )
        await audit(session, mine.id, actor_id=row.user_id, action="verified", reason=note, now=now)
        await audit(session, mine.id, actor_id=row.user_id, action="took_over", reason=f"from request #{held.id}",
                    now=now)
        await session.commit()
        fresh = await session.get(Verification, row.id, populate_existing=True)
        log.info("request %s taken over by a proven owner: now draft %s", held.id, mine.id)
        self._unhide(row.device_code)
        return _outcome(fresh or row)

    async def untold_takeovers(self) -> list[tuple[int, int, str]]:
        """(request id, requester id, repository) of requests taken over whose requester was not told yet."""
        told = aliased(TransferEvent)
        async with self._db() as session:
            rows = await session.execute(
                select(TransferRequest.id, TransferRequest.requester_id, TransferRequest.repo_owner,
                       TransferRequest.repo_name)
                .join(TransferEvent, TransferEvent.request_id == TransferRequest.id)
                .where(
                    TransferEvent.action == TAKEN_OVER,
                    ~exists().where(told.request_id == TransferRequest.id, told.action == TAKEOVER_TOLD),
                )
                .order_by(TransferRequest.id)
            )
            return [(r[0], r[1], f"{r[2]}/{r[3]}") for r in rows]

    async def mark_takeover_told(self, request_id: int, where: str) -> None:
        async with self._db() as session:
            await audit(session, request_id, actor_id=None, action=TAKEOVER_TOLD, reason=where, now=self._clock.now())
            await session.commit()

    # ----- restarts and notifications -----------------------------------------------------------

    async def resume_pending(self) -> list[Outcome]:
        """After a restart: expire device flows whose code ran out while the bot was away (pending
        ones stay for the poll loop), and return finished outcomes the user was not told yet."""
        now = self._clock.now()
        async with self._db() as session:
            pending = list(
                await session.scalars(
                    select(Verification).where(Verification.method == DEVICE, Verification.state == PENDING)
                )
            )
        for row in pending:
            if now >= row.expires_at:
                await self._finish(row, EXPIRED, "expired_token", text.expired(row.last_error))
            else:
                self._hide(row.device_code)
        return await self.unnotified()

    async def unnotified(self) -> list[Outcome]:
        async with self._db() as session:
            rows = await session.scalars(
                select(Verification)
                .where(Verification.method == DEVICE, Verification.state != PENDING,
                       Verification.notified_at.is_(None))
                .order_by(Verification.id)
            )
            return [_outcome(r) for r in rows]

    async def mark_notified(self, verification_id: int) -> None:
        async with self._db() as session:
            await session.execute(
                update(Verification)
                .where(Verification.id == verification_id)
                .values(notified_at=self._clock.now())
            )
            await session.commit()

    # ----- repository topic ---------------------------------------------------------------------

    async def start_topic(self, request_id: int, user_id: int) -> TopicChallenge:
        now = self._clock.now()
        async with self._db() as session:
            req = await self._own_request(session, request_id, user_id)
            if req.verified_at is not None:
                raise Conflict(text.already_verified(req.repo_full_name))
            current = await self._latest_topic(session, request_id, user_id)
            if (
                current is not None
                and current.state == PENDING
                and current.repo_key == req.repo_key
                and now < current.expires_at
            ):
                row = current  # the same code until it expires, so a topic already added still counts
            else:
                row = Verification(
                    request_id=request_id, user_id=user_id, repo_key=req.repo_key, method=TOPIC,
                    state=PENDING, nonce=new_nonce(), expires_at=now + NONCE_TTL,
                    notified_at=now, created_at=now, updated_at=now,
                )
                session.add(row)
                await session.commit()
            return TopicChallenge(row.id, request_id, req.repo_full_name, row.nonce or "", row.expires_at)

    @staticmethod
    async def _latest_topic(session: AsyncSession, request_id: int, user_id: int) -> Verification | None:
        return await session.scalar(
            select(Verification)
            .where(Verification.request_id == request_id, Verification.user_id == user_id,
                   Verification.method == TOPIC)
            .order_by(Verification.id.desc())
            .limit(1)
        )

    async def check_topic(self, request_id: int, user_id: int) -> Outcome:
        now = self._clock.now()
        async with self._db() as session:
            req = await self._own_request(session, request_id, user_id)
            row = await self._latest_topic(session, request_id, user_id)
        if row is None or row.state == FAILED:
            raise NotFoundError(text.NO_TOPIC_CODE)
        if row.state != PENDING:
            return _outcome(row)
        if row.repo_key != req.repo_key:
            return await self._finish(row, FAILED, "request_changed", text.REQUEST_CHANGED)
        if now >= row.expires_at:
            return await self._finish(row, EXPIRED, "nonce_expired", text.nonce_expired(row.nonce or ""))
        owner, _, name = row.repo_key.partition("/")
        try:
            repo = await self._github.get_repo(owner, name)
        except NotFound:
            raise NotFoundError(text.repo_not_visible(req.repo_full_name)) from None
        except RateLimited as exc:
            raise ServiceUnavailable(text.rate_limited(exc.retry_after)) from None
        except ApiError:
            raise ServiceUnavailable(text.GITHUB_DOWN) from None
        if row.nonce not in repo.topics:
            return Outcome(row.id, request_id, user_id, TOPIC, PENDING, "topic_missing",
                           text.topic_missing(row.nonce or "", repo))
        note = f"Someone with maintain or admin rights on {repo.full_name} added the one-time topic {row.nonce}."
        if repo.owner_type == "Organization":
            # Adding topics needs maintain; only an admin can transfer an organisation's repository
            # (ARCHITECTURE.md#github-facts): this shows maintain access, not ownership, and approval needs a confirm.
            note += " That proves maintain access, not the admin rights a transfer needs."
            return await self._mark_verified(
                row, METHOD_TOPIC_MAINTAIN, None, note, text.topic_maintain_verified(row.nonce or "", repo)
            )
        return await self._mark_verified(row, METHOD_TOPIC, None, note, text.topic_verified(row.nonce or "", repo))

    # ----- manual -------------------------------------------------------------------------------

    async def verify_manually(self, request_id: int, maintainer_id: int, reason: str) -> Outcome:
        """A maintainer vouches for the requester. The caller checks the maintainer role."""
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidInput("Give a reason: it is recorded in the audit log.")
        if len(reason) > 500:
            raise InvalidInput("Keep the reason under 500 characters.")
        now = self._clock.now()
        async with self._db() as session:
            req = await session.get(TransferRequest, request_id)
            if req is None:
                raise NotFoundError(f"There is no request #{request_id}.")
            if req.requester_id == maintainer_id:
                raise NotAllowed(f"You made request #{request_id}: another maintainer must verify it.")
            if not req.is_open:
                raise Conflict(f"Request #{request_id} is {LABELS.get(req.state, req.state)}.")
            if req.state == "draft":
                # A draft can still change its GitHub username: vouch for what the maintainers will see.
                raise Conflict(f"Request #{request_id} is still a draft: verify it once it is submitted.")
            if req.verified_at is not None:
                raise Conflict(text.already_verified(req.repo_full_name))
            note = f"Verified by hand by maintainer <@{maintainer_id}>: {reason}"
            message = f"Request #{request_id} ({req.repo_full_name}) is now marked verified."
            row = Verification(
                request_id=request_id, user_id=req.requester_id, repo_key=req.repo_key, method=MANUAL,
                state=VERIFIED, result=METHOD_MANUAL, note=message, expires_at=now, notified_at=now,
                created_at=now, updated_at=now,
            )
            session.add(row)
            req.verified_at = now
            req.verification_method = METHOD_MANUAL
            req.verified_github_login = None
            req.verification_note = note
            req.updated_at = now
            await audit(session, request_id, actor_id=maintainer_id, action="verified_manually", reason=reason,
                        now=now)
            await session.commit()
        log.info("request %s verified by hand by %s", request_id, maintainer_id)
        return _outcome(row)

    # ----- PyPI ---------------------------------------------------------------------------------

    async def pypi_check(self, request_id: int) -> PyPICheck:
        async with self._db() as session:
            req = await session.get(TransferRequest, request_id)
        if req is None:
            raise NotFoundError(f"There is no request #{request_id}.")
        project, username = req.pypi_project, req.pypi_username
        if not project:
            return PyPICheck(None, username, None, None, False, text.NO_PYPI_PROJECT)
        if self._pypi is None:
            return PyPICheck(project, username, None, None, False, text.PYPI_UNCHECKED)
        try:
            info = await self._pypi.get_project(project)
        except ProjectQuarantined:
            return PyPICheck(project, username, None, None, True, text.pypi_quarantined(project))
        except NotFound:
            return PyPICheck(project, username, None, None, True, text.pypi_missing(project))
        except ApiError:
            return PyPICheck(project, username, None, None, False, text.PYPI_DOWN)
        role = None
        if username:
            wanted = username.strip().lower()
            roles = {r.role for r in info.roles if r.user.lower() == wanted}
            role = "Owner" if "Owner" in roles else ("Maintainer" if roles else None)
        links = text.links_to_repo(info, req.repo_key, self._settings.github.web_url)
        warning, message = text.pypi_report(
            info, username, role, links, req.repo_full_name, self._settings.pypi.trusted_owners,
            self._settings.pypi.trusted_organizations,
        )
        return PyPICheck(info.name, username, role, links, warning or not links, message)

    # ----- helpers ------------------------------------------------------------------------------

    def _hide(self, secret: str | None) -> None:
        if self._filter is not None:
            self._filter.add(secret)

    def _unhide(self, secret: str | None) -> None:
        # Once a token is revoked or a device code is spent, redacting it in logs no longer matters.
        if self._filter is not None:
            self._filter.discard(secret)
