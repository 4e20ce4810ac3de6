"""Maintainer review: votes from reactions, race-free decisions, the org invitation, the queue.

No Discord here. The review cog turns reaction events into `record_vote` calls (after its own role
check) and renders what these methods return. Every decision goes through `states.transition`, a
conditional UPDATE, so replays, duplicates and concurrent votes decide a request exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.dialect import insert
from bot.db.models.review import ChecklistItem, ReviewNudge, ReviewTracking, ReviewVote
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from bot.github import GitHubClient
from bot.http import ApiError, RateLimited, Unavailable
from bot.services import adoption
from bot.services.states import audit, transition

log = logging.getLogger(__name__)

APPROVE, REJECT, LOOKING = "\u2705", "\u274c", "\U0001f440"
VOTE_EMOJIS = (APPROVE, REJECT, LOOKING)
REQUESTER_VOTE = "the requester can't vote on their own request"
REVIEWABLE = ("submitted", "under_review")
TRACKED = ("approved", "transferring")
OPEN = (*REVIEWABLE, *TRACKED)  # a deleted card of these is posted again
CARD_POSTED, CARD_REPOSTED = "review.card_posted", "review.card_reposted"
# An invitation claimed by a process that died is retried after this long.
STALE_CLAIM = timedelta(minutes=10)
REQUESTER_TOLD = "review.requester_told"  # audit: the post-approval checklist reached the requester
REASON_GRACE = timedelta(hours=24)  # a rejection still without a reason after this is told without one
# "Invitations expire after 7 days", and an org may create only 50 a day (500 when older than a month):
# https://docs.github.com/en/organizations/managing-membership-in-your-organization/inviting-users-to-join-your-organization
INVITATION_LIFETIME = timedelta(days=7)
DAILY_LIMIT_HINT = (
    "GitHub allows an organisation 50 invitations a day (500 once it is a month old), so this may be that limit"
)


@dataclass(frozen=True)
class ItemSpec:
    key: str
    title: str
    automatic: bool
    needs_pypi: bool = False


# The post-approval checklist (ARCHITECTURE.md#after-the-github-move). Titles may use {org} and {owners}.
ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec("org_member", "Requester joined the {org} organisation", True),
    ItemSpec("repo_transferred", "Repository moved to {org}", True),
    ItemSpec("pypi_owner", "PyPI: {owners} is an Owner", True, needs_pypi=True),
    ItemSpec("publish_workflow", "Publish workflow for trusted publishing", True),
    ItemSpec("readme_notice", "README mentions the Pallets Community Ecosystem", True),
    ItemSpec("release", "A PyPI release from the new home", True, needs_pypi=True),
    ItemSpec("readthedocs", "Read the Docs: {owners} added as maintainer", False),
    ItemSpec("test_pypi", "Test PyPI: {owners} is an Owner (or not used)", False, needs_pypi=True),
)
# An adoption's PyPI name belongs to the original owners: one of these replaces "pypi_owner" (services/adoption.py).
ADOPTION_ITEMS: dict[str, ItemSpec] = {
    adoption.PEP541: ItemSpec("adoption_pep541", "PyPI: PEP 541 request filed for the abandoned name", False,
                              needs_pypi=True),
    adoption.OWN_NAME: ItemSpec("adoption_own_name", "PyPI: {owners} is an Owner of the fork's own name", True,
                                needs_pypi=True),
}
ITEM_BY_KEY = {spec.key: spec for spec in (*ITEMS, *ADOPTION_ITEMS.values())}
# Card order: an adoption's PyPI step stands where "pypi_owner" would.
ITEM_ORDER = {spec.key: n for n, spec in enumerate(ITEMS)} | {
    spec.key: [i.key for i in ITEMS].index("pypi_owner") for spec in ADOPTION_ITEMS.values()
}


def items_for(request: TransferRequest) -> list[ItemSpec]:
    """The checklist of one request: PyPI steps only when it has a PyPI project; an adoption's own PyPI step.
    Read from the stored report, so it is the same list before and after a restart."""
    specs = [spec for spec in ITEMS if request.pypi_project or not spec.needs_pypi]
    path = adoption.pypi_path(request.report_json) if request.pypi_project else None
    if path is not None:
        specs = [ADOPTION_ITEMS[path] if spec.key == "pypi_owner" else spec for spec in specs]
    return specs


def item_title(spec: ItemSpec, settings: Settings) -> str:
    return spec.title.format(org=settings.github.org, owners=", ".join(settings.pypi.trusted_owners))


# Verification methods (bot.services.verification): a maintainer's vouch, and the topic proof that only
# shows maintain access (ARCHITECTURE.md#github-facts).
VOUCHED_METHOD = "manual"
MAINTAIN_ONLY_METHOD = "repo-topic-maintain"


def login_proven(request: TransferRequest) -> bool:
    """The login the bot would invite was proven by GitHub's device flow (the only proof that sets
    `verified_github_login`; a topic or a maintainer's word leaves it empty)."""
    return request.verified_at is not None and request.verified_github_login is not None


def login_confirmed(request: TransferRequest) -> bool:
    """Proven, or vouched for by a maintainer with /eco verify-manual (an explicit, audited confirm)."""
    return login_proven(request) or (request.verified_at is not None and request.verification_method == VOUCHED_METHOD)


def needs_confirmation(request: TransferRequest) -> bool:
    """Approved only with an explicit confirm button: unverified, "not accepted" or unchecked (no verdict:
    the checks never produced a report) requests, proof of
    maintain access only (an organisation's repository with a topic), and a self-declared GitHub login
    (the confirm is also the maintainer's go-ahead to invite that login to the org)."""
    return (
        request.verified_at is None
        or request.verdict in (None, "not_accepted")
        or request.verification_method == MAINTAIN_ONLY_METHOD
        or not login_confirmed(request)
    )


def ensure_not_requester(request: TransferRequest, user_id: int, what: str) -> None:
    """Nobody decides on their own request, maintainer or not (ARCHITECTURE.md#invariants)."""
    if request.requester_id == user_id:
        raise NotAllowed(f"You made request #{request.id}: another maintainer must {what} it.")


def requester_login(request: TransferRequest) -> str | None:
    return request.verified_github_login or request.github_username


@dataclass(frozen=True)
class Tally:
    approvals: tuple[int, ...] = ()
    rejections: tuple[int, ...] = ()
    looking: tuple[int, ...] = ()


@dataclass(frozen=True)
class VoteOutcome:
    request_id: int
    status: str  # "recorded", "removed", "unchanged", "ignored"
    state: str | None
    tally: Tally = Tally()
    reason: str | None = None  # why an event was ignored
    decision: str | None = None  # "approved"/"rejected" when THIS call decided
    decided_by: int | None = None
    awaiting_confirmation: bool = False  # enough approvals, but a maintainer must confirm

    @property
    def changed(self) -> bool:
        return self.status in ("recorded", "removed") or self.decision is not None


@dataclass(frozen=True)
class InvitationResult:
    request_id: int
    state: str  # "sent", "member", "failed", "manual", "skipped"
    login: str | None
    message: str
    report: bool  # worth telling maintainers (first failure, success, manual instructions)
    requester_message: str | None = None  # also told to the requester (a new invitation after one expired)


@dataclass
class CardData:
    """Everything the review card shows, read in one go."""

    request: TransferRequest
    tally: Tally
    approvals_required: int
    tracking: ReviewTracking | None
    items: list[ChecklistItem] = field(default_factory=list)
    nudges: list[ReviewNudge] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return needs_confirmation(self.request)

    @property
    def awaiting_confirmation(self) -> bool:
        return (
            self.request.state in REVIEWABLE
            and self.needs_confirmation
            and not self.tally.rejections
            and len(self.tally.approvals) >= self.approvals_required
        )


@dataclass(frozen=True)
class QueueEntry:
    request_id: int
    repo: str
    state: str
    age: timedelta
    waiting_for: str


class ReviewService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: object,
        settings: Settings,
        github: GitHubClient | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.github = github

    def _now(self) -> datetime:
        return self.clock.now()  # type: ignore[attr-defined, no-any-return]

    # ----- reading --------------------------------------------------------------------------------

    async def request_for_message(self, message_id: int) -> int | None:
        async with self.db() as session:
            return await session.scalar(
                select(TransferRequest.id).where(TransferRequest.review_message_id == message_id)
            )

    async def check_not_requester(self, request_id: int, user_id: int, what: str) -> None:
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
        if request is not None:
            ensure_not_requester(request, user_id, what)

    async def card_data(self, request_id: int) -> CardData:
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None:
                raise NotFoundError(f"There is no transfer request #{request_id}.")
            items = (
                await session.scalars(select(ChecklistItem).where(ChecklistItem.request_id == request_id))
            ).all()
            order = ITEM_ORDER
            nudges = (
                await session.scalars(
                    select(ReviewNudge).where(ReviewNudge.request_id == request_id).order_by(ReviewNudge.sent_at)
                )
            ).all()
            return CardData(
                request=request,
                tally=await _tally(session, request_id),
                approvals_required=self.settings.review.approvals_required,
                tracking=await session.get(ReviewTracking, request_id),
                items=sorted(items, key=lambda i: order.get(i.key, 99)),
                nudges=list(nudges),
            )

    async def open_cards(self) -> list[tuple[int, int, int, str]]:
        """(request id, channel id, message id, state) of every card of an open request: collecting
        votes or tracking a transfer (for catch-up: offline votes, cards deleted while offline)."""
        async with self.db() as session:
            rows = await session.execute(
                select(
                    TransferRequest.id,
                    TransferRequest.review_channel_id,
                    TransferRequest.review_message_id,
                    TransferRequest.state,
                )
                .where(TransferRequest.state.in_(OPEN), TransferRequest.review_message_id.is_not(None))
                .order_by(TransferRequest.id)
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def requests_without_card(self) -> list[int]:
        """Submitted requests whose card was never posted (the bot was down at submission)."""
        async with self.db() as session:
            rows = await session.scalars(
                select(TransferRequest.id)
                .where(TransferRequest.state == "submitted", TransferRequest.review_message_id.is_(None))
                .order_by(TransferRequest.id)
            )
            return list(rows)

    # ----- the card --------------------------------------------------------------------------------

    async def card_posted(
        self, request_id: int, *, channel_id: int, message_id: int, thread_id: int | None
    ) -> bool:
        """Remember where the card is and move a submitted request to under_review."""
        now = self._now()
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None:
                return False
            if request.review_message_id not in (None, message_id):
                # The old card was deleted. Votes made on it stay (see sync_votes).
                await audit(session, request_id, actor_id=None, action=CARD_REPOSTED, now=now)
            values: dict[str, object] = {"review_channel_id": channel_id, "review_message_id": message_id}
            if thread_id is not None:
                values["review_thread_id"] = thread_id
            await session.execute(update(TransferRequest).where(TransferRequest.id == request_id).values(**values))
            await session.refresh(request)
            if request.state == "submitted":
                await transition(
                    session, request, "under_review", actor_id=None, action=CARD_POSTED, now=now,
                    strict=False,
                )
            await _ensure_tracking(session, request_id)
            await session.commit()
            return True

    async def set_requester_thread(self, request_id: int, thread_id: int) -> None:
        async with self.db() as session:
            await _ensure_tracking(session, request_id)
            await session.execute(
                update(ReviewTracking)
                .where(ReviewTracking.request_id == request_id)
                .values(requester_thread_id=thread_id)
            )
            await session.commit()

    # ----- votes -----------------------------------------------------------------------------------

    async def record_vote(
        self,
        request_id: int,
        user_id: int,
        emoji: str,
        is_maintainer: bool,
        added: bool,
        *,
        is_bot: bool = False,
    ) -> VoteOutcome:
        """Apply one reaction event. Safe to call any number of times, concurrently."""
        now = self._now()
        async with self.db() as session:
            # FOR UPDATE (PostgreSQL; SQLite renders nothing and relies on the write below): concurrent
            # events for one request are applied one after another.
            request = await session.get(TransferRequest, request_id, with_for_update=True)
            if request is None:
                return VoteOutcome(request_id, "ignored", None, reason="unknown request")
            why = _ignore_reason(request, user_id, emoji, is_maintainer, is_bot)
            if why is not None:
                return VoteOutcome(request_id, "ignored", request.state, reason=why)
            # The write comes first: it takes SQLite's write lock, so what we read next is current and
            # concurrent events are applied one after another.
            if added:
                stmt = insert(session, ReviewVote).values(request_id=request_id, user_id=user_id, emoji=emoji, at=now)
                result = await session.execute(stmt.on_conflict_do_nothing())
            else:
                result = await session.execute(
                    delete(ReviewVote).where(
                        ReviewVote.request_id == request_id, ReviewVote.user_id == user_id, ReviewVote.emoji == emoji
                    )
                )
            await session.refresh(request)
            if request.state not in REVIEWABLE:
                state = request.state
                await session.rollback()  # a late reaction: the decision is already made
                return VoteOutcome(request_id, "ignored", state, reason="already decided")
            status = ("recorded" if added else "removed") if result.rowcount == 1 else "unchanged"
            outcome = await self._decide(session, request, actor_id=user_id, now=now, status=status)
            await session.commit()
            return outcome

    async def sync_votes(
        self, request_id: int, reactions: Mapping[str, Iterable[int]], maintainer_ids: Collection[int]
    ) -> VoteOutcome:
        """Catch up with the card's reactions as they are now (made while the bot was offline)."""
        now = self._now()
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None:
                return VoteOutcome(request_id, "ignored", None, reason="unknown request")
            wanted = {
                (user_id, emoji)
                for emoji, users in reactions.items()
                if emoji in VOTE_EMOJIS
                for user_id in users
                if user_id in maintainer_ids and user_id != request.requester_id
            }
            # A no-op write first, for the write lock (see record_vote).
            await session.execute(text("UPDATE transfer_requests SET state = state WHERE id = :id"), {"id": request_id})
            await session.refresh(request)
            if request.state not in REVIEWABLE:
                state = request.state
                await session.rollback()
                return VoteOutcome(request_id, "ignored", state, reason="already decided")
            votes = select(ReviewVote.user_id, ReviewVote.emoji, ReviewVote.at)
            rows = (await session.execute(votes.where(ReviewVote.request_id == request_id))).all()
            have = {(r[0], r[1]) for r in rows}
            # Votes made on a card that was deleted since are not among this card's reactions: they stay.
            posted = await session.scalar(
                select(func.max(TransferEvent.at)).where(
                    TransferEvent.request_id == request_id, TransferEvent.action.in_((CARD_POSTED, CARD_REPOSTED))
                )
            )
            earlier = {(r[0], r[1]) for r in rows if posted is not None and r[2] < posted}
            for user_id, emoji in have - wanted - earlier:
                await session.execute(
                    delete(ReviewVote).where(
                        ReviewVote.request_id == request_id, ReviewVote.user_id == user_id, ReviewVote.emoji == emoji
                    )
                )
            for user_id, emoji in sorted(wanted - have):
                stmt = insert(session, ReviewVote).values(request_id=request_id, user_id=user_id, emoji=emoji, at=now)
                await session.execute(stmt.on_conflict_do_nothing())
            status = "recorded" if wanted - have or have - wanted - earlier else "unchanged"
            tally = await _tally(session, request_id)
            actor = (tally.rejections or tally.approvals or (None,))[-1]
            outcome = await self._decide(session, request, actor_id=actor, now=now, status=status)
            await session.commit()
            return outcome

    async def reconsider(self, request_id: int) -> VoteOutcome:
        """Apply the votes again after the request itself changed. Approvals given while it was
        unverified decide once it is verified: the reason for the confirm step is gone."""
        now = self._now()
        async with self.db() as session:
            # A no-op write first, for the write lock (see record_vote).
            await session.execute(text("UPDATE transfer_requests SET state = state WHERE id = :id"), {"id": request_id})
            request = await session.get(TransferRequest, request_id)
            if request is None or request.state not in REVIEWABLE:
                state = request.state if request else None
                await session.rollback()
                return VoteOutcome(request_id, "ignored", state, reason="already decided")
            tally = await _tally(session, request_id)
            actor = (tally.approvals or (None,))[-1]
            outcome = await self._decide(session, request, actor_id=actor, now=now, status="unchanged")
            await session.commit()
            return outcome

    async def confirm_approval(self, request_id: int, user_id: int, is_maintainer: bool) -> VoteOutcome:
        """The second step for unverified / not-accepted requests."""
        if not is_maintainer:
            raise NotAllowed("Only Pallets maintainers can confirm an approval.")
        now = self._now()
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None:
                raise NotFoundError(f"There is no transfer request #{request_id}.")
            ensure_not_requester(request, user_id, "confirm")
            if request.state not in REVIEWABLE:
                return VoteOutcome(request_id, "ignored", request.state, reason="already decided")
            tally = await _tally(session, request_id)
            if tally.rejections:
                raise Conflict("A maintainer voted to reject this request; it can't be approved.")
            if len(tally.approvals) < self.settings.review.approvals_required:
                raise Conflict(
                    f"This request needs {self.settings.review.approvals_required} approval(s) first "
                    f"(it has {len(tally.approvals)})."
                )
            outcome = await self._decide(
                session, request, actor_id=user_id, now=now, status="unchanged", confirmed=True
            )
            await session.commit()
            return outcome

    async def _decide(
        self,
        session: AsyncSession,
        request: TransferRequest,
        *,
        actor_id: int | None,
        now: datetime,
        status: str,
        confirmed: bool = False,
    ) -> VoteOutcome:
        tally = await _tally(session, request.id)
        required = self.settings.review.approvals_required
        base = VoteOutcome(request.id, status, request.state, tally)
        if tally.rejections:
            actor = tally.rejections[0]
            result = await transition(
                session, request, "rejected", actor_id=actor, action="review.rejected", now=now,
                values={"decided_by": actor, "decided_at": now}, strict=False,
            )
            if result.changed:
                return _with(base, state="rejected", decision="rejected", decided_by=actor)
            return base
        if len(tally.approvals) < required:
            return base
        if needs_confirmation(request) and not confirmed:
            return _with(base, awaiting_confirmation=True)
        if request.state == "submitted":
            await transition(
                session, request, "under_review", actor_id=None, action=CARD_POSTED, now=now, strict=False
            )
        action = "review.approved_confirmed" if confirmed else "review.approved"
        result = await transition(
            session, request, "approved", actor_id=actor_id, action=action, now=now,
            values={"decided_by": actor_id, "decided_at": now}, strict=False,
        )
        if not result.changed:
            return base
        await start_tracking(session, request, now)
        return _with(base, state="approved", decision="approved", decided_by=actor_id)

    # ----- rejection reason --------------------------------------------------------------------------

    async def set_rejection_reason(self, request_id: int, user_id: int, is_maintainer: bool, reason: str) -> bool:
        """Store the reason once; True when this call stored it (the cog then relays it)."""
        if not is_maintainer:
            raise NotAllowed("Only Pallets maintainers can give the reason for a rejection.")
        await self.check_not_requester(request_id, user_id, "explain the rejection of")
        reason = reason.strip()
        if not reason:
            raise InvalidInput("Please write a reason the requester can act on.")
        async with self.db() as session:
            result = await session.execute(
                update(TransferRequest)
                .where(
                    TransferRequest.id == request_id,
                    TransferRequest.state == "rejected",
                    TransferRequest.decision_reason.is_(None),
                )
                .values(decision_reason=reason[:1500], updated_at=self._now())
            )
            if result.rowcount != 1:
                await session.rollback()
                return False
            await audit(session, request_id, actor_id=user_id, action="review.reason", reason=reason[:1500],
                        now=self._now())
            await session.commit()
            return True

    async def unnotified_approvals(self, started_at: datetime) -> list[int]:
        """Approved requests whose requester may never have got the checklist: not claimed yet, or
        claimed by an earlier process (before `started_at`) that stopped before it was delivered."""
        async with self.db() as session:
            rows = await session.scalars(
                select(TransferRequest.id)
                .outerjoin(ReviewTracking, ReviewTracking.request_id == TransferRequest.id)
                .where(TransferRequest.state.in_(TRACKED), _notice_claimable(started_at))
                .order_by(TransferRequest.id)
            )
            return list(rows)

    async def record_requester_told(self, request_id: int, where: str) -> None:
        async with self.db() as session:
            await audit(session, request_id, actor_id=None, action=REQUESTER_TOLD, reason=where, now=self._now())
            await session.commit()

    async def unexplained_rejections(self) -> list[int]:
        """Rejected requests whose requester has heard nothing: no reason given within REASON_GRACE."""
        async with self.db() as session:
            rows = await session.scalars(
                select(TransferRequest.id)
                .outerjoin(ReviewTracking, ReviewTracking.request_id == TransferRequest.id)
                .where(
                    TransferRequest.state == "rejected",
                    TransferRequest.decision_reason.is_(None),
                    TransferRequest.decided_at <= self._now() - REASON_GRACE,
                    ReviewTracking.requester_notified_at.is_(None),
                )
                .order_by(TransferRequest.id)
            )
            return list(rows)

    async def mark_requester_notified(self, request_id: int, reclaim_before: datetime | None = None) -> bool:
        """Claim the one post-decision message to the requester. True only for the first caller.
        With `reclaim_before`, a claim made before then and never delivered can be taken over."""
        async with self.db() as session:
            await _ensure_tracking(session, request_id)
            claimable = (
                ReviewTracking.requester_notified_at.is_(None)
                if reclaim_before is None
                else _notice_claimable(reclaim_before)
            )
            result = await session.execute(
                update(ReviewTracking)
                .where(ReviewTracking.request_id == request_id, claimable)
                .values(requester_notified_at=self._now())
            )
            await session.commit()
            return result.rowcount == 1

    # ----- the org invitation ------------------------------------------------------------------------

    async def pending_invitations(self) -> list[int]:
        states = ["pending", "failed", "sending"]
        if self.settings.secrets.github_org_admin_token:
            states.append("manual")  # a token configured since: try again
        async with self.db() as session:
            rows = await session.scalars(
                select(ReviewTracking.request_id)
                .join(TransferRequest, TransferRequest.id == ReviewTracking.request_id)
                .where(TransferRequest.state.in_(TRACKED), ReviewTracking.invitation_state.in_(states))
            )
            return list(rows)

    async def ensure_invitation(self, request_id: int) -> InvitationResult:
        """Invite the requester to the org, at most once, whoever calls and however often."""
        now = self._now()
        org = self.settings.github.org
        token = self.settings.secrets.github_org_admin_token
        async with self.db() as session:
            request = await session.get(TransferRequest, request_id)
            if request is None or request.state not in TRACKED:
                return InvitationResult(request_id, "skipped", None, "not approved", False)
            login = requester_login(request)
            claimable = ["pending", "failed"] + (["manual"] if token else [])
            claim = await session.execute(
                update(ReviewTracking)
                .where(
                    ReviewTracking.request_id == request_id,
                    or_(
                        ReviewTracking.invitation_state.in_(claimable),
                        (ReviewTracking.invitation_state == "sending")
                        & (ReviewTracking.invitation_at < now - STALE_CLAIM),
                    ),
                )
                .values(invitation_state="sending", invitation_at=now, invitation_login=login)
            )
            tracking = await session.get(ReviewTracking, request_id)
            previous_error = tracking.invitation_error if tracking else None
            await session.commit()
        if claim.rowcount != 1:
            return InvitationResult(request_id, "skipped", login, "already handled", False)
        if login is None:
            return await self._finish_invitation(
                request_id, "manual", None,
                "No GitHub account is known for the requester: ask them for it, then invite them.", True,
            )
        if not token:
            return await self._finish_invitation(
                request_id, "manual", login,
                f"Invite **{login}** to {org}: {self.settings.github.web_url}/orgs/{org}/people "
                "(no org admin token is configured, so the bot can't).",
                True,
            )
        assert self.github is not None
        try:
            membership = await self.github.org_membership(org, login, token=token)
            if membership == "active":
                return await self._finish_invitation(
                    request_id, "member", login, f"**{login}** is already a member of {org}.", True
                )
            if membership != "pending":
                await self.github.invite_to_org(org, login, token=token)
        except ApiError as exc:
            log.warning("org invitation for request %s failed: %s", request_id, exc.message)
            first = previous_error is None
            hint = f" ({DAILY_LIMIT_HINT})." if _maybe_daily_limit(exc) else ""
            return await self._finish_invitation(
                request_id, "failed", login, f"Inviting **{login}** to {org} failed: {exc.message}{hint}", first,
                error=exc.message,
            )
        return await self._finish_invitation(
            request_id, "sent", login,
            f"Invited **{login}** to {org}. They need to accept at "
            f"{self.settings.github.web_url}/orgs/{org}/invitation.",
            True,
        )

    async def lapsed_invitations(self) -> list[int]:
        """Requests whose invitation from the bot is old enough to have expired unanswered."""
        if not self.settings.secrets.github_org_admin_token:
            return []
        cutoff = self._now() - INVITATION_LIFETIME
        joined = (
            select(ChecklistItem.request_id)
            .where(ChecklistItem.key == "org_member", ChecklistItem.done_at.is_not(None))
        )
        async with self.db() as session:
            rows = await session.scalars(
                select(ReviewTracking.request_id)
                .join(TransferRequest, TransferRequest.id == ReviewTracking.request_id)
                .where(
                    TransferRequest.state.in_(TRACKED),
                    ReviewTracking.invitation_state.in_(("sent", "resent")),
                    ReviewTracking.invitation_at <= cutoff,
                    ReviewTracking.request_id.not_in(joined),
                )
            )
            return list(rows)

    async def recheck_invitation(self, request_id: int) -> InvitationResult:
        """After 7 days: ask GitHub whether the invitation is still there. If it expired, invite once
        more and tell the requester; if the second one expires too (or GitHub refuses it), tell the
        maintainers, who take it from there by hand."""
        now = self._now()
        org = self.settings.github.org
        token = self.settings.secrets.github_org_admin_token
        people = f"{self.settings.github.web_url}/orgs/{org}/people"
        async with self.db() as session:
            tracking = await session.get(ReviewTracking, request_id)
            if tracking is None or tracking.invitation_state not in ("sent", "resent") or not token:
                return InvitationResult(request_id, "skipped", None, "not sent", False)
            before_state, before_at = tracking.invitation_state, tracking.invitation_at
            login = tracking.invitation_login
            claim = await session.execute(
                update(ReviewTracking)
                .where(
                    ReviewTracking.request_id == request_id,
                    ReviewTracking.invitation_state == before_state,
                    ReviewTracking.invitation_at == before_at,
                    ReviewTracking.invitation_at <= now - INVITATION_LIFETIME,
                )
                .values(invitation_state="sending", invitation_at=now)
            )
            await session.commit()
        if claim.rowcount != 1 or login is None:
            return InvitationResult(request_id, "skipped", login, "already handled", False)
        assert self.github is not None
        try:
            membership = await self.github.org_membership(org, login, token=token)
        except ApiError as exc:
            # Nothing learnt: put it back as it was, and ask again on the next pass.
            log.warning("re-checking the invitation of request %s failed: %s", request_id, exc.message)
            await self._restore_invitation(request_id, before_state, before_at)
            return InvitationResult(request_id, "skipped", login, exc.message, False)
        if membership == "active":
            return await self._finish_invitation(request_id, "member", login, f"**{login}** joined {org}.", False)
        if membership == "pending":
            # Invited again since (by hand, say): that invitation is at most 7 days old.
            return await self._finish_invitation(request_id, before_state, login, "still pending", False)
        if before_state == "resent":
            return await self._finish_invitation(
                request_id, "lapsed", login,
                f"\u26a0\ufe0f The second invitation to **{login}** expired unanswered too. Ask them here whether "
                f"they still want to join, then invite them by hand: {people}",
                True, error="the second invitation expired",
            )
        try:
            await self.github.invite_to_org(org, login, token=token)
        except ApiError as exc:
            log.warning("re-inviting the requester of request %s failed: %s", request_id, exc.message)
            if isinstance(exc, RateLimited | Unavailable):
                await self._restore_invitation(request_id, before_state, before_at)
                return InvitationResult(request_id, "skipped", login, exc.message, False)
            hint = f" ({DAILY_LIMIT_HINT})" if _maybe_daily_limit(exc) else ""
            return await self._finish_invitation(
                request_id, "lapsed", login,
                f"\u26a0\ufe0f The invitation to **{login}** expired unanswered and GitHub refused a new one: "
                f"{exc.message}{hint}. Invite them by hand: {people}",
                True, error=exc.message,
            )
        accept = f"{self.settings.github.web_url}/orgs/{org}/invitation"
        result = await self._finish_invitation(
            request_id, "resent", login,
            f"The invitation to **{login}** expired unanswered (GitHub invitations last 7 days): the bot sent "
            "a new one and told the requester.",
            True,
        )
        return replace(
            result,
            requester_message=(
                f"Your invitation to join **{org}** on GitHub expired before it was accepted (invitations last "
                f"7 days), so I sent **{login}** a new one. Please accept it at {accept} within 7 days: the "
                "repository transfer can't happen before you are a member."
            ),
        )

    async def _restore_invitation(self, request_id: int, state: str, at: datetime | None) -> None:
        async with self.db() as session:
            await session.execute(
                update(ReviewTracking)
                .where(ReviewTracking.request_id == request_id, ReviewTracking.invitation_state == "sending")
                .values(invitation_state=state, invitation_at=at)
            )
            await session.commit()

    async def _finish_invitation(
        self, request_id: int, state: str, login: str | None, message: str, report: bool, *, error: str | None = None
    ) -> InvitationResult:
        async with self.db() as session:
            await session.execute(
                update(ReviewTracking)
                .where(ReviewTracking.request_id == request_id)
                .values(invitation_state=state, invitation_at=self._now(), invitation_error=error)
            )
            await session.commit()
        return InvitationResult(request_id, state, login, message, report)

    # ----- the queue ---------------------------------------------------------------------------------

    async def queue(self) -> list[QueueEntry]:
        now = self._now()
        required = self.settings.review.approvals_required
        async with self.db() as session:
            requests = (
                await session.scalars(
                    select(TransferRequest)
                    .where(TransferRequest.state.in_(("submitted", "under_review", *TRACKED)))
                    .order_by(TransferRequest.id)
                )
            ).all()
            entries = []
            for request in requests:
                since = request.submitted_at or request.created_at
                waiting = await self._waiting_for(session, request, required)
                entries.append(QueueEntry(request.id, request.repo_full_name, request.state, now - since, waiting))
            order = {"submitted": 0, "under_review": 1, "approved": 2, "transferring": 3}
            return sorted(entries, key=lambda e: (order[e.state], -e.age))

    async def _waiting_for(self, session: AsyncSession, request: TransferRequest, required: int) -> str:
        if request.state == "submitted":
            return "the review card to be posted"
        if request.state == "under_review":
            tally = await _tally(session, request.id)
            if len(tally.approvals) >= required and needs_confirmation(request):
                return "a maintainer to confirm the approval (unverified, not accepted or login not proven)"
            text = f"maintainer votes ({len(tally.approvals)}/{required} approvals)"
            if request.verified_at is None:
                text += "; requester has not verified ownership"
            return text
        open_items = (
            await session.scalars(
                select(ChecklistItem.key)
                .where(ChecklistItem.request_id == request.id, ChecklistItem.done_at.is_(None))
            )
        ).all()
        order = ITEM_ORDER
        keys = sorted(open_items, key=lambda k: order.get(k, 99))
        names = [_short(k) for k in keys]
        return "checklist: " + (", ".join(names) if names else "nothing (finishing)")


SHORT_NAMES = {
    "org_member": "requester joins org",
    "repo_transferred": "GitHub transfer",
    "pypi_owner": "PyPI owner",
    "publish_workflow": "publish workflow",
    "readme_notice": "README notice",
    "release": "new release",
    "readthedocs": "Read the Docs",
    "test_pypi": "Test PyPI",
    "adoption_pep541": "PEP 541 request",
    "adoption_own_name": "PyPI owner (fork's name)",
}


def _short(key: str) -> str:
    return SHORT_NAMES.get(key, key)


def _maybe_daily_limit(exc: ApiError) -> bool:
    """GitHub documents 403 and 422 for a refused membership PUT; a plain (not rate-limit) refusal
    after earlier invitations worked is most likely the daily invitation limit."""
    return exc.status in (403, 422) and not isinstance(exc, RateLimited)


def _with(outcome: VoteOutcome, **changes: object) -> VoteOutcome:
    return replace(outcome, **changes)  # type: ignore[arg-type]


def _ignore_reason(request: TransferRequest, user_id: int, emoji: str, is_maintainer: bool, is_bot: bool) -> str | None:
    if is_bot:
        return "bot reaction"
    if emoji not in VOTE_EMOJIS:
        return "not a voting reaction"
    if user_id == request.requester_id:
        return REQUESTER_VOTE
    if not is_maintainer:
        return "not a maintainer"
    if request.state not in REVIEWABLE:
        return "already decided"
    return None


async def _tally(session: AsyncSession, request_id: int) -> Tally:
    rows = (
        await session.execute(
            select(ReviewVote.user_id, ReviewVote.emoji)
            .where(ReviewVote.request_id == request_id)
            .order_by(ReviewVote.at, ReviewVote.id)
        )
    ).all()
    by = {e: tuple(u for u, em in rows if em == e) for e in VOTE_EMOJIS}
    return Tally(approvals=by[APPROVE], rejections=by[REJECT], looking=by[LOOKING])


def _notice_claimable(before: datetime) -> ColumnElement[bool]:
    """The requester's checklist is unclaimed, or was claimed before `before` and never delivered."""
    told = (
        select(TransferEvent.id)
        .where(TransferEvent.request_id == ReviewTracking.request_id, TransferEvent.action == REQUESTER_TOLD)
        .exists()
    )
    return or_(
        ReviewTracking.requester_notified_at.is_(None),
        (ReviewTracking.requester_notified_at < before) & ~told,
    )


async def _ensure_tracking(session: AsyncSession, request_id: int) -> None:
    stmt = insert(session, ReviewTracking).values(request_id=request_id, invitation_state="pending")
    await session.execute(stmt.on_conflict_do_nothing())


async def start_tracking(session: AsyncSession, request: TransferRequest, now: datetime) -> None:
    """Create the tracking row and the checklist of a newly approved request (idempotent)."""
    await _ensure_tracking(session, request.id)
    await session.execute(
        update(ReviewTracking)
        .where(ReviewTracking.request_id == request.id)
        .values(
            approved_at=now,
            last_progress_at=now,
            repo_id=request.github_repo_id,
            repo_full_name=request.repo_full_name,
            invitation_state="pending",
        )
    )
    for spec in items_for(request):
        stmt = insert(session, ChecklistItem).values(request_id=request.id, key=spec.key)
        await session.execute(stmt.on_conflict_do_nothing())
