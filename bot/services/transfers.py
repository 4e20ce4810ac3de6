"""Transfer intake: the draft form, the terms, submission, eligibility runs, status and withdrawal.

Every state change goes through `bot.services.states.transition`. Network calls (the eligibility
checks) run outside any database transaction, so a slow GitHub never holds a SQLite write lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.config import Settings
from bot.db.dialect import dialect_name
from bot.db.models.transfers import OPEN_STATES, TransferEvent, TransferRequest
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from bot.services import states
from bot.services.eligibility import ChecksUnavailable, EligibilityService, Report
from bot.services.repo_ref import (
    github_hosts_from_url,
    parse_github_username,
    parse_pypi_name,
    parse_pypi_username,
    parse_repo_ref,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # Discord's limit for a text input; also what the database keeps
RETRY_EVERY = timedelta(minutes=5)
# Each request backs off on its own: 5, 5, 10, 20 ... minutes after failed runs, at most 6 hours.
MAX_RETRY_DELAY = timedelta(hours=6)
UNEXPECTED_CHECK_ERROR = "The automatic checks hit a problem the bot could not handle; they are retried later."
CHECKED_STATES = ("submitted", "under_review", "approved")
UNDECIDED = ("draft", "submitted", "under_review")  # counted by review.max_open_per_user
REPO_MISSING = "repo_missing"  # audit: withdrawn at submission, GitHub has no such public repository
# Audit actions: a stale draft withdrawn by the bot, and its owner told about it (once).
DRAFT_EXPIRED = "draft_expired"
EXPIRY_TOLD = "draft_expiry_told"

TERMS = (
    "You give up the final say: you stay a collaborator, but other members have input on pull requests and releases.",
    "Trusted members of the org get release access on PyPI (the Pallets maintainers become Owners).",
    "pallets-eco is not an official Pallets repository: nothing in it is guaranteed to be maintained by "
    "the Pallets team.",
    "You join the pallets-eco organisation first, then transfer the repository yourself with GitHub's "
    "transfer feature.",
)


@dataclass(frozen=True)
class TransferForm:
    """The first step of the form, exactly as typed."""

    repository: str
    pypi_project: str = ""
    github_username: str = ""
    pypi_username: str = ""
    reason: str = ""


@dataclass(frozen=True)
class RequestInfo:
    """What the Discord layer shows about a request (no ORM object leaves the service)."""

    id: int
    requester_id: int
    state: str
    state_label: str
    repo_full_name: str
    pypi_project: str | None
    pypi_project_detected: bool
    github_username: str | None
    pypi_username: str | None
    reason: str
    terms_accepted_at: datetime | None
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    verdict: str | None
    report: Report | None
    report_error: str | None
    report_checked_at: datetime | None
    verified_at: datetime | None
    verification_method: str | None = None
    verified_github_login: str | None = None
    verification_note: str | None = None  # also explains a failed attempt ("Not verified: ...")
    decided_at: datetime | None = None
    expired: bool = False  # a draft the bot withdrew because nobody touched it

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def checks_pending(self) -> bool:
        return self.state != "draft" and self.report is None

    @property
    def next_step(self) -> str:
        return next_step(self)


@dataclass(frozen=True)
class SubmitResult:
    request: RequestInfo
    changed: bool  # False for a repeated click: the request was already submitted


@dataclass(frozen=True)
class StartResult:
    """What `/eco transfer` finds: the caller's draft, and a draft of theirs that expired since they
    last ran the command (told once)."""

    draft: RequestInfo | None
    expired: RequestInfo | None


@dataclass(frozen=True)
class CheckResult:
    request: RequestInfo
    report: Report | None
    error: str | None  # set when GitHub/PyPI could not answer; the request keeps it for a retry


def retry_delay(failures: int | None) -> timedelta:
    """How long a request waits before its checks run again after `failures` failed runs in a row."""
    doublings = min(max(0, (failures or 0) - 2), 10)
    return min(RETRY_EVERY * (2**doublings), MAX_RETRY_DELAY)


def next_step(info: RequestInfo) -> str:
    if info.state == "draft":
        if info.terms_accepted_at is None:
            return "Press **Continue** to read and accept the terms."
        return "Press **Submit** to send the request to the maintainers."
    if info.expired:
        return "This draft expired because it was not changed for a long time. Run `/eco transfer` to start again."
    if info.state in ("rejected", "done", "withdrawn"):
        return {
            "rejected": "This request was rejected. You can ask about it in #pallets-eco.",
            "done": "The transfer is complete. Welcome to pallets-eco!",
            "withdrawn": "This request was withdrawn. Run `/eco transfer` to start a new one.",
        }[info.state]
    steps: list[str] = []
    if info.report_error:
        steps.append(
            "The automatic checks could not run yet (GitHub or PyPI was unavailable); they are retried automatically."
        )
    if info.report and info.report.verdict == "not_accepted" and info.report.advice:
        steps.append(info.report.advice)
    if info.state in ("submitted", "under_review") and info.verified_at is None:
        steps.append("Prove that you own the repository: press **Verify ownership**.")
    if info.state == "submitted":
        steps.append("The maintainers will review it; you'll hear back here.")
    elif info.state == "under_review":
        steps.append("The maintainers are reviewing it.")
    elif info.state == "approved":
        steps.append(
            "Accept the pallets-eco invitation, then transfer the repository on GitHub and make the "
            "Pallets maintainers Owners on PyPI."
        )
    elif info.state == "transferring":
        steps.append("Finish the remaining steps (PyPI ownership, Read the Docs, a release from the new home).")
    return " ".join(steps)


def _info(row: TransferRequest, *, expired: bool = False) -> RequestInfo:
    report = None
    if row.report_json:
        try:
            report = Report.from_json(row.report_json)
        except (ValueError, TypeError):
            log.warning("request %s has an unreadable report; it will be re-checked", row.id)
    return RequestInfo(
        id=row.id,
        requester_id=row.requester_id,
        state=row.state,
        state_label=states.LABELS.get(row.state, row.state),
        repo_full_name=row.repo_full_name,
        pypi_project=row.pypi_project,
        pypi_project_detected=row.pypi_project_detected,
        github_username=row.github_username,
        pypi_username=row.pypi_username,
        reason=row.reason,
        terms_accepted_at=row.terms_accepted_at,
        submitted_at=row.submitted_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        verdict=row.verdict,
        report=report,
        report_error=row.report_error,
        report_checked_at=row.report_checked_at,
        verified_at=row.verified_at,
        verification_method=row.verification_method,
        verified_github_login=row.verified_github_login,
        verification_note=row.verification_note,
        decided_at=row.decided_at,
        expired=expired,
    )


def repo_missing(report: Report) -> bool:
    """The report says GitHub has no public repository by that name (missing, private or misspelled)."""
    return report.github_repo_id is None and any(
        c.key == "repo_public" and c.status == "fail" for c in report.checks
    )


class RepoClaimable(Conflict):
    """Another member's unverified request holds the repository: proving ownership takes it over."""

    def __init__(self, message: str, request_id: int) -> None:
        super().__init__(message)
        self.request_id = request_id


class _RepoTaken(Exception):
    """Another open request holds the repository (the partial unique index refused the write)."""


# Built once: constructing these (the aliased NOT EXISTS especially) costs more than running them.
_DRAFT_OF = (
    select(TransferRequest)
    .where(TransferRequest.requester_id == bindparam("user_id"), TransferRequest.state == "draft")
    .order_by(TransferRequest.id.desc())
    .limit(1)
)
_TOLD = aliased(TransferEvent)
_UNTOLD_EXPIRIES = (
    select(TransferRequest)
    .join(TransferEvent, TransferEvent.request_id == TransferRequest.id)
    .where(
        TransferRequest.requester_id == bindparam("user_id"),
        TransferRequest.state == "withdrawn",
        TransferEvent.action == DRAFT_EXPIRED,
        ~exists().where(_TOLD.request_id == TransferRequest.id, _TOLD.action == EXPIRY_TOLD),
    )
    .order_by(TransferRequest.id.desc())
)
# `start`'s one read: the caller's drafts and their withdrawn requests whose expiry was not told yet
# (_DRAFT_OF and _UNTOLD_EXPIRIES in one statement), newest first.
_EXPIRED = aliased(TransferEvent)
_START_ROWS = (
    select(TransferRequest)
    .where(
        TransferRequest.requester_id == bindparam("user_id"),
        or_(
            TransferRequest.state == "draft",
            and_(
                TransferRequest.state == "withdrawn",
                exists().where(_EXPIRED.request_id == TransferRequest.id, _EXPIRED.action == DRAFT_EXPIRED),
                ~exists().where(_TOLD.request_id == TransferRequest.id, _TOLD.action == EXPIRY_TOLD),
            ),
        ),
    )
    .order_by(TransferRequest.id.desc())
)


class TransferService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        eligibility: EligibilityService,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._db = db
        self._eligibility = eligibility
        self._clock = clock
        self._hosts = github_hosts_from_url(settings.github.web_url)
        self._expiry_days = settings.review.draft_expiry_days
        self.draft_expiry = timedelta(days=self._expiry_days)
        self._max_open = settings.review.max_open_per_user
        self._submit_cooldown = timedelta(seconds=settings.review.submit_cooldown_seconds)

    # --- reading ------------------------------------------------------------------------------

    async def _row(self, session: AsyncSession, request_id: int, user_id: int | None = None) -> TransferRequest:
        row = await session.get(TransferRequest, request_id, populate_existing=True)
        if row is None or (user_id is not None and row.requester_id != user_id):
            # The same answer for "not yours" and "doesn't exist": custom_ids are visible to users.
            raise NotFoundError("That transfer request doesn't exist or isn't yours.")
        return row

    async def get(self, request_id: int, user_id: int | None = None) -> RequestInfo:
        async with self._db() as session:
            row = await self._row(session, request_id, user_id)
            expired = row.state == "withdrawn" and bool(await self._expired_ids(session, [row.id]))
            return _info(row, expired=expired)

    @staticmethod
    async def _expired_ids(session: AsyncSession, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        stmt = select(TransferEvent.request_id).where(
            TransferEvent.request_id.in_(ids), TransferEvent.action == DRAFT_EXPIRED
        )
        return set(await session.scalars(stmt))

    async def get_draft(self, user_id: int) -> RequestInfo | None:
        async with self._db() as session:
            row = await self._draft(session, user_id)
            return _info(row) if row else None

    async def _draft(self, session: AsyncSession, user_id: int) -> TransferRequest | None:
        return (await session.scalars(_DRAFT_OF, {"user_id": user_id})).first()

    async def list_for_user(self, user_id: int) -> list[RequestInfo]:
        async with self._db() as session:
            stmt = (
                select(TransferRequest)
                .where(TransferRequest.requester_id == user_id)
                .order_by(TransferRequest.created_at.desc(), TransferRequest.id.desc())
            )
            rows = list(await session.scalars(stmt))
            expired = await self._expired_ids(session, [r.id for r in rows if r.state == "withdrawn"])
            return [_info(r, expired=r.id in expired) for r in rows]

    async def open_for_user(self, user_id: int) -> list[RequestInfo]:
        return [r for r in await self.list_for_user(user_id) if r.is_open]

    # --- the form -------------------------------------------------------------------------------

    def _validate(self, form: TransferForm) -> dict[str, object]:
        for label, value in (("reason", form.reason), ("repository", form.repository)):
            if len(value) > MAX_TEXT:
                raise InvalidInput(f"The {label} is too long ({len(value)} characters; at most {MAX_TEXT}).")
        ref = parse_repo_ref(form.repository, extra_hosts=self._hosts)
        pypi = parse_pypi_name(form.pypi_project)
        github_user = parse_github_username(form.github_username)
        pypi_user = parse_pypi_username(form.pypi_username)
        if not form.reason.strip():
            raise InvalidInput("Tell the maintainers briefly why you want to transfer and how the project is doing.")
        return {
            "repo_owner": ref.owner,
            "repo_name": ref.name,
            "repo_key": ref.key,
            "pypi_project": pypi,
            "pypi_project_detected": False,
            "github_username": github_user,
            "pypi_username": pypi_user,
            # Stored exactly as typed; escaping is the renderer's job.
            "reason": form.reason,
        }

    async def save_form(
        self, user_id: int, guild_id: int, form: TransferForm, *, request_id: int | None = None
    ) -> RequestInfo:
        """Create the caller's draft, or update it (one draft per user). Raises Conflict when another
        open request holds the repository; a stale draft holding it is expired on the spot instead."""
        values = self._validate(form)
        try:
            return await self._save(user_id, guild_id, values, request_id)
        except _RepoTaken:
            pass
        repo_key = str(values["repo_key"])
        if await self.expire_blocking_draft(repo_key, user_id):
            try:
                return await self._save(user_id, guild_id, values, request_id)
            except _RepoTaken:
                pass  # taken again in between: report whoever holds it now
        raise await self._repo_taken(repo_key, user_id)

    async def _save(
        self, user_id: int, guild_id: int, values: dict[str, object], request_id: int | None
    ) -> RequestInfo:
        now = self._clock.now()
        async with self._db() as session:
            row = await self._row(session, request_id, user_id) if request_id else await self._draft(session, user_id)
            if row is not None and row.state != "draft":
                raise Conflict(f"Request #{row.id} is already {states.LABELS[row.state]}; it can't be edited.")
            if row is None:
                # Both times from the service clock: draft expiry compares updated_at with it.
                row = TransferRequest(
                    requester_id=user_id, guild_id=guild_id, state="draft", created_at=now, updated_at=now, **values
                )
                session.add(row)
                action = "draft_created"
                # The cap is counted after the insert, in the same transaction: two forms sent at once
                # can't both slip under it (SQLite serialises the writers).
                await self._check_cap(session, row)
            else:
                old_repo, old_key = row.repo_full_name, row.repo_key
                for key, value in values.items():
                    setattr(row, key, value)
                if row.repo_key != old_key and (row.verified_at or row.verification_note):
                    # A proof (or a failed attempt) is about one repository: it never carries over.
                    row.verified_at = row.verification_method = None
                    row.verified_github_login = row.verification_note = None
                    await states.audit(
                        session, row.id, actor_id=user_id, action="verification_reset", now=now,
                        reason=f"repository changed from {old_repo} to {row.repo_full_name}",
                    )
                row.updated_at = now
                # A changed repository needs new checks.
                row.report_json = row.verdict = row.report_error = None
                action = "draft_updated"
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                raise _RepoTaken from None
            await states.audit(session, row.id, actor_id=user_id, action=action, now=now)
            await session.commit()
            return _info(row)

    async def _check_cap(self, session: AsyncSession, new: TransferRequest) -> None:
        """Refuse a new draft when the user would have more than `review.max_open_per_user` requests
        waiting for a decision (no squatting of many repositories by one account)."""
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            raise _RepoTaken from None
        waiting = list(await session.scalars(
            select(TransferRequest)
            .where(TransferRequest.requester_id == new.requester_id, TransferRequest.state.in_(UNDECIDED))
            .order_by(TransferRequest.id)
        ))
        if len(waiting) > self._max_open:
            ids = ", ".join(f"#{r.id} ({r.repo_full_name})" for r in waiting if r is not new)
            await session.rollback()
            raise Conflict(
                f"You already have {len(waiting) - 1} requests waiting for a decision ({ids}); at most "
                f"{self._max_open} at a time. Withdraw one with `/eco withdraw`, or wait for the maintainers."
            )

    # --- draft expiry ------------------------------------------------------------------------------

    def _stale(self, row: TransferRequest, now: datetime) -> bool:
        return row.state == "draft" and row.updated_at <= now - self.draft_expiry

    async def _expire(self, session: AsyncSession, row: TransferRequest, now: datetime, why: str) -> bool:
        reason = f"draft untouched for {self._expiry_days:g} days; {why}"
        result = await states.transition(
            session, row, "withdrawn", actor_id=None, action=DRAFT_EXPIRED, reason=reason, now=now, strict=False
        )
        return result.changed

    @staticmethod
    async def _write_lock(session: AsyncSession) -> None:
        # A no-op write takes SQLite's write lock before we read, so a draft edited at this very
        # moment is seen as edited (and kept) rather than expired from a stale read. PostgreSQL locks
        # rows instead: the reads below are FOR UPDATE, which wait for such an edit and see its result.
        if dialect_name(session) == "sqlite":
            await session.execute(text("UPDATE transfer_requests SET state = state WHERE 0"))

    async def expire_stale_drafts(self, limit: int = 100) -> list[int]:
        """One pass of the background loop: withdraw drafts untouched for `review.draft_expiry_days`,
        so an abandoned form stops holding its repository. Returns the expired request ids."""
        now = self._clock.now()
        async with self._db() as session:
            await self._write_lock(session)
            stmt = select(TransferRequest).where(
                TransferRequest.state == "draft", TransferRequest.updated_at <= now - self.draft_expiry
            )
            stmt = stmt.order_by(TransferRequest.id).limit(limit).with_for_update()
            rows = (await session.scalars(stmt)).all()
            expired = [row.id for row in rows if await self._expire(session, row, now, "expired by the bot")]
            await session.commit()
        if expired:
            log.info("expired %d stale draft request(s): %s", len(expired), expired)
        return expired

    async def expire_blocking_draft(self, repo_key: str, user_id: int) -> int | None:
        """Another user's stale draft holds `repo_key`: expire it so `user_id` can proceed."""
        now = self._clock.now()
        async with self._db() as session:
            await self._write_lock(session)
            stmt = select(TransferRequest).where(
                TransferRequest.repo_key == repo_key, TransferRequest.state == "draft"
            )
            row = (await session.scalars(stmt.with_for_update())).first()
            if row is None or row.requester_id == user_id or not self._stale(row, now):
                await session.rollback()
                return None
            changed = await self._expire(session, row, now, "expired because another request was made")
            await session.commit()
        if changed:
            log.info("expired stale draft %s: user %s asked for the same repository", row.id, user_id)
        return row.id if changed else None

    async def start(self, user_id: int) -> StartResult:
        """`/eco transfer`: the caller's draft (expired on the spot when stale), and the news of a draft
        of theirs that expired since they last asked, which is told once."""
        now = self._clock.now()
        async with self._db() as session:
            # One query for both (the draft, and the expiries not told yet): each query is several
            # round trips to the database thread, and most callers have neither.
            rows = list(await session.scalars(_START_ROWS, {"user_id": user_id}))
            draft = next((r for r in rows if r.state == "draft"), None)
            untold = [r for r in rows if r.state == "withdrawn"]
            expired_now = draft is not None and self._stale(draft, now)
            if expired_now:
                await self._expire(session, draft, now, "expired when its owner came back")
                draft = None
                # The draft just expired is news too: read the untold expiries again (rare).
                untold = list((await session.scalars(_UNTOLD_EXPIRIES, {"user_id": user_id})).unique())
            for row in untold:
                await states.audit(session, row.id, actor_id=user_id, action=EXPIRY_TOLD, now=now)
            if untold or expired_now:  # most calls only read: no commit to wait for
                await session.commit()
            return StartResult(
                draft=_info(draft) if draft else None,
                expired=_info(untold[0], expired=True) if untold else None,
            )

    async def _repo_taken(self, repo_key: str, user_id: int) -> Conflict:
        async with self._db() as session:
            stmt = select(TransferRequest).where(
                TransferRequest.repo_key == repo_key, TransferRequest.state.in_(OPEN_STATES)
            )
            other = (await session.scalars(stmt)).first()
        if other is None:  # freed in the meantime: let the user try again
            return Conflict("Another request for this repository was just being saved. Please try again.")
        label = states.LABELS.get(other.state, other.state)
        if other.requester_id == user_id:
            return Conflict(f"You already have request #{other.id} for {other.repo_full_name}; it is {label}.")
        if other.verified_at is None and other.state in UNDECIDED:
            # Nobody proved ownership yet: the real owner can take it over by proving it.
            return RepoClaimable(
                f"A request for {other.repo_full_name} already exists and is {label}. Its requester has not proven "
                "they own the repository. If you own it, prove it by signing in with GitHub: that withdraws the "
                "other request and moves this repository into your draft.",
                other.id,
            )
        return Conflict(f"A request for {other.repo_full_name} already exists and is {label}.")

    async def accept_terms(self, request_id: int, user_id: int) -> RequestInfo:
        now = self._clock.now()
        async with self._db() as session:
            row = await self._row(session, request_id, user_id)
            if row.terms_accepted_at is None:  # a second click keeps the first time
                if row.state != "draft":
                    raise Conflict(f"Request #{row.id} is {states.LABELS[row.state]}.")
                row.terms_accepted_at = now
                row.updated_at = now
                await states.audit(session, row.id, actor_id=user_id, action="terms_accepted", now=now)
                await session.commit()
            return _info(row)

    async def submit(self, request_id: int, user_id: int) -> SubmitResult:
        now = self._clock.now()
        async with self._db() as session:
            row = await self._row(session, request_id, user_id)
            if row.state != "draft":
                if row.state in ("submitted", "under_review", "approved", "transferring"):
                    return SubmitResult(_info(row), changed=False)  # double click
                raise Conflict(f"Request #{row.id} is {states.LABELS[row.state]}; start a new one with /eco transfer.")
            if row.terms_accepted_at is None:
                raise Conflict("Accept the terms first (press Continue).")
            if not row.reason.strip():
                raise Conflict("Tell the maintainers why you want to transfer first: press **Edit**.")
            await self._check_cooldown(session, row, now)
            result = await states.transition(
                session, row, "submitted", actor_id=user_id, action="submit", now=now, values={"submitted_at": now}
            )
            await session.commit()
            if not result.changed:  # a concurrent click got there first
                row = await self._row(session, request_id, user_id)
            return SubmitResult(_info(row), changed=result.changed)

    async def _check_cooldown(self, session: AsyncSession, row: TransferRequest, now: datetime) -> None:
        """One submission per `review.submit_cooldown_seconds` and user: each posts a review card with a
        thread and spends GitHub and PyPI calls."""
        last = await session.scalar(
            select(func.max(TransferRequest.submitted_at)).where(
                TransferRequest.requester_id == row.requester_id, TransferRequest.id != row.id
            )
        )
        if last is None:
            return
        if last.tzinfo is None:
            last = last.replace(tzinfo=now.tzinfo)
        wait = last + self._submit_cooldown - now
        if wait.total_seconds() > 0:
            seconds = max(1, int(wait.total_seconds() + 0.999))
            raise Conflict(
                f"You submitted a request moments ago. Please wait {seconds} seconds, then press **Submit** again: "
                "your draft is saved."
            )

    async def withdraw(self, request_id: int, user_id: int, reason: str | None = None) -> SubmitResult:
        """Only the requester withdraws; a repeated confirm returns changed=False."""
        now = self._clock.now()
        async with self._db() as session:
            for _attempt in range(3):
                row = await session.get(TransferRequest, request_id, populate_existing=True)
                if row is None:
                    raise NotFoundError("That transfer request doesn't exist.")
                if row.requester_id != user_id:
                    raise NotAllowed("Only the person who made a request can withdraw it.")
                if row.state == "withdrawn":
                    return SubmitResult(_info(row), changed=False)
                result = await states.transition(
                    session, row, "withdrawn", actor_id=user_id, action="withdraw", reason=reason, now=now
                )
                if result.changed:
                    await session.commit()
                    return SubmitResult(_info(row), changed=True)
                # The request moved on meanwhile (the review card went up, a maintainer voted): the
                # requester still wants out, so withdraw it from its new state.
                await session.rollback()
        raise Conflict(f"Request #{request_id} is changing right now; try again in a moment.")

    # --- eligibility -----------------------------------------------------------------------------

    async def run_checks(
        self, request_id: int, *, actor_id: int | None = None, withdraw_if_missing: bool = False
    ) -> CheckResult:
        """Evaluate eligibility and store the report, or the error for a later retry. With
        `withdraw_if_missing` (right after submission, before any card), a request for a repository
        GitHub doesn't show publicly is withdrawn in the same transaction: no card, no review."""
        async with self._db() as session:
            row = await self._row(session, request_id)
            owner, name, given = row.repo_owner, row.repo_name, None if row.pypi_project_detected else row.pypi_project
            github_user, pypi_user = row.github_username, row.pypi_username
        report: Report | None = None
        error: str | None = None
        try:
            report = await self._eligibility.evaluate(
                owner, name, pypi_project=given, github_username=github_user, pypi_username=pypi_user
            )
        except ChecksUnavailable as exc:
            error = exc.message
            log.warning("eligibility checks for request %s postponed: %s", request_id, exc.message)
        except Exception:
            # Whatever one repository's data provokes stays with that request: it is retried with
            # back-off like an outage, and never stops the submission or the retry pass.
            error = UNEXPECTED_CHECK_ERROR
            log.exception("eligibility checks for request %s failed", request_id)
        now = self._clock.now()
        async with self._db() as session:
            row = await self._row(session, request_id)
            row.report_checked_at = now
            row.updated_at = now
            row.report_error = error
            row.check_failures = 0 if report is not None else (row.check_failures or 0) + 1
            if report is not None:
                row.report_json = report.to_json()
                row.verdict = report.verdict
                row.github_repo_id = report.github_repo_id
                if not given and report.pypi_project:
                    row.pypi_project, row.pypi_project_detected = report.pypi_project, True
                await states.audit(
                    session, row.id, actor_id=actor_id, action="eligibility_checked", reason=report.verdict, now=now
                )
                if withdraw_if_missing and repo_missing(report) and row.state == "submitted":
                    await states.transition(
                        session, row, "withdrawn", actor_id=None, action=REPO_MISSING, now=now, strict=False,
                        reason="GitHub has no public repository with that name",
                    )
            await session.commit()
            return CheckResult(_info(row), report, error)

    async def pending_check_ids(self) -> list[int]:
        """Submitted requests whose checks never ran or failed and whose own back-off has passed
        (RETRY_EVERY after the last try, doubling after the second failure in a row)."""
        now = self._clock.now()
        cutoff = now - RETRY_EVERY
        async with self._db() as session:
            stmt = select(TransferRequest.id, TransferRequest.report_checked_at, TransferRequest.check_failures).where(
                TransferRequest.state.in_(CHECKED_STATES),
                or_(TransferRequest.report_error.is_not(None), TransferRequest.report_json.is_(None)),
                or_(TransferRequest.report_checked_at.is_(None), TransferRequest.report_checked_at <= cutoff),
            )
            rows = (await session.execute(stmt.order_by(TransferRequest.id))).all()
        due = [(checked, rid) for rid, checked, fails in rows if checked is None or checked + retry_delay(fails) <= now]
        # Never tried first, then the longest waiting: requests that keep failing can't hold the pass's slots.
        return [rid for checked, rid in sorted(due, key=lambda d: (d[0] is not None, d[0] or now, d[1]))]

    async def retry_pending_checks(self, limit: int = 20) -> list[int]:
        """One pass of the background loop: re-run postponed checks; return ids that now have a report.

        Requests are independent: one that fails (or raises) backs off on its own and the pass goes on."""
        done: list[int] = []
        for request_id in (await self.pending_check_ids())[:limit]:
            try:
                result = await self.run_checks(request_id)
            except Exception:
                log.exception("retrying the checks of request %s failed", request_id)
                continue
            if result.report is not None:
                done.append(request_id)
        return done
