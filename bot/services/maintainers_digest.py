"""The maintainers' weekly digest: what needs a maintainer's attention, once a week in the
review channel and on demand. Not the contributors' `/eco subscribe` issue digest (bot.services.suggestions).

The digest is a list of section providers: each reads the database and returns a `DigestSection` (or
None when it has nothing to say). A new section (join requests, ...) is one function passed to
`register_section`. Every line is built here from escaped, capped outside text (bot.markdown); the
cog only fits the sections into one embed.

Exactly once per week: `claim_week` is a conditional INSERT (or, for a claim older than the lease whose
post was never recorded, a conditional UPDATE) before posting; `record_posted` stores the message id.
A process killed between claim and post leaves a claim that the next process takes over after the
lease; it first looks for a post of that week in the channel (the kill may have come after the send).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.dialect import insert as dialect_insert
from bot.db.dialect import serialize
from bot.db.models.faq import FaqFeedback, FaqReply
from bot.db.models.join import REVIEWABLE_JOIN_STATES, JoinRequest
from bot.db.models.maintainers_digest import DigestQuestion, MaintainersDigestWeek
from bot.db.models.review import ChecklistItem, ReviewTracking
from bot.db.models.transfers import TransferRequest
from bot.markdown import escape
from bot.services.review import INVITATION_LIFETIME, ITEMS, REVIEWABLE, SHORT_NAMES, TRACKED

EXCERPT_CHARS = 120  # of a question, in the digest
STORED_EXCERPT_CHARS = 300  # of a question, in the database (the column's size)
NAME_CHARS = 100  # a repository, login or topic name in a line
MAX_ITEMS_READ = 200  # rows a provider reads per section: the embed shows far fewer anyway
QUESTIONS_LOCK = 0x45434F51  # advisory lock key of the candidate-question table ("ECOQ")
WEEKLY_MARKER = "Weekly maintainers' digest"
DISCORD_WEB = "https://discord.com/channels"


@dataclass(frozen=True)
class DigestSection:
    title: str
    lines: tuple[str, ...] = ()  # markdown, outside text already escaped
    note: str | None = None  # shown even when there are no lines (e.g. "can't see questions")
    more: int = 0  # items beyond what was read


@dataclass
class DigestContext:
    session: AsyncSession
    settings: Settings
    now: datetime


Provider = Callable[[DigestContext], Awaitable[DigestSection | None]]


@dataclass(frozen=True)
class Digest:
    week_key: str
    sections: tuple[DigestSection, ...]

    @property
    def empty(self) -> bool:
        return not any(s.lines for s in self.sections)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(s.note for s in self.sections if s.note and not s.lines)


@dataclass(frozen=True)
class WeekClaim:
    week_key: str
    token: str
    reclaimed: bool  # an earlier claim was taken over: a post may already exist


def week_key(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def scheduled_at(now: datetime, weekday: int, hour: int) -> datetime:
    """This ISO week's digest moment (UTC)."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday + timedelta(days=weekday, hours=hour)


def age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def message_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"{DISCORD_WEB}/{int(guild_id)}/{int(channel_id)}/{int(message_id)}"


def _request_link(request: TransferRequest, settings: Settings) -> str:
    """`[#12](...)`: the label is ours, the target the review card, else the repository (path quoted)."""
    if request.review_message_id and request.review_channel_id:
        url = message_url(request.guild_id, request.review_channel_id, request.review_message_id)
    else:
        url = f"{settings.github.web_url}/{quote(request.repo_owner, safe='')}/{quote(request.repo_name, safe='')}"
    return f"[#{int(request.id)}]({url})"


def _repo(request: TransferRequest) -> str:
    return f"**{escape(request.repo_full_name, NAME_CHARS)}**"


# ----- the sections ------------------------------------------------------------------------------------


async def waiting_requests(ctx: DigestContext) -> DigestSection | None:
    rows = await _requests(ctx, TransferRequest.state.in_(REVIEWABLE), TransferRequest.verified_at.is_(None))
    lines = tuple(
        f"{_request_link(r, ctx.settings)} {_repo(r)} \u00b7 waiting {age(ctx.now - (r.submitted_at or r.created_at))}"
        " (ownership not verified)"
        for r in rows
    )
    return DigestSection("Transfer requests waiting for review", lines)


async def waiting_join_requests(ctx: DigestContext) -> DigestSection | None:
    """`/eco join` requests on a card and not decided yet (the login shown was proven by GitHub)."""
    rows = (
        await ctx.session.scalars(
            select(JoinRequest)
            .where(JoinRequest.state.in_(REVIEWABLE_JOIN_STATES))
            .order_by(JoinRequest.created_at, JoinRequest.id)
            .limit(MAX_ITEMS_READ)
        )
    ).all()
    lines = []
    for r in rows:
        label = f"join #{int(r.id)}"
        if r.review_channel_id and r.review_message_id:
            label = f"[{label}]({message_url(r.guild_id, r.review_channel_id, r.review_message_id)})"
        login = escape(r.github_login or "?", 39)
        lines.append(f"{label} **{login}** \u00b7 waiting {age(ctx.now - r.created_at)}")
    return DigestSection("Join requests waiting for review", tuple(lines))


async def verified_undecided(ctx: DigestContext) -> DigestSection | None:
    rows = await _requests(ctx, TransferRequest.state.in_(REVIEWABLE), TransferRequest.verified_at.is_not(None))
    lines = tuple(
        f"{_request_link(r, ctx.settings)} {_repo(r)} \u00b7 verified {age(ctx.now - r.verified_at)} ago, "  # type: ignore[operator]
        f"submitted {age(ctx.now - (r.submitted_at or r.created_at))} ago, no decision"
        for r in rows
    )
    return DigestSection("Verified requests still undecided", lines)


async def stalled_transfers(ctx: DigestContext) -> DigestSection | None:
    stall = timedelta(days=ctx.settings.tracking.nudge_after_days)
    rows = (
        await ctx.session.execute(
            select(TransferRequest, ReviewTracking)
            .join(ReviewTracking, ReviewTracking.request_id == TransferRequest.id)
            .where(TransferRequest.state.in_(TRACKED))
            .order_by(TransferRequest.id)
            .limit(MAX_ITEMS_READ)
        )
    ).all()
    order = {spec.key: n for n, spec in enumerate(ITEMS)}
    lines = []
    for request, tracking in rows:
        since = tracking.last_progress_at or tracking.approved_at
        if since is None or ctx.now - since < stall:
            continue
        open_keys = (
            await ctx.session.scalars(
                select(ChecklistItem.key).where(
                    ChecklistItem.request_id == request.id, ChecklistItem.done_at.is_(None)
                )
            )
        ).all()
        first = min(open_keys, key=lambda k: order.get(k, 99)) if open_keys else None
        step = SHORT_NAMES.get(first, first) if first else "finishing"
        lines.append(
            f"{_request_link(request, ctx.settings)} {_repo(request)} \u00b7 stuck at **{escape(step, 60)}** "
            f"since {since:%Y-%m-%d} ({age(ctx.now - since)})"
        )
    return DigestSection("Approved transfers that stalled", tuple(lines))


INVITATION_TEXT = {
    "sent": "invitation pending",
    "resent": "second invitation pending (the first expired)",
    "lapsed": "both invitations expired: invite by hand",
    "failed": "invitation failed",
    "manual": "to invite by hand (no org admin token)",
}


async def invitations(ctx: DigestContext) -> DigestSection | None:
    joined = select(ChecklistItem.request_id).where(
        ChecklistItem.key == "org_member", ChecklistItem.done_at.is_not(None)
    )
    rows = (
        await ctx.session.execute(
            select(TransferRequest, ReviewTracking)
            .join(ReviewTracking, ReviewTracking.request_id == TransferRequest.id)
            .where(
                TransferRequest.state.in_(TRACKED),
                ReviewTracking.invitation_state.in_(tuple(INVITATION_TEXT)),
                ReviewTracking.request_id.not_in(joined),
            )
            .order_by(ReviewTracking.invitation_at)
            .limit(MAX_ITEMS_READ)
        )
    ).all()
    lines = []
    for request, tracking in rows:
        state = tracking.invitation_state
        text = INVITATION_TEXT[state]
        at = tracking.invitation_at
        if state in ("sent", "resent") and at is not None and ctx.now - at >= INVITATION_LIFETIME:
            text = "invitation expired" if state == "sent" else "second invitation expired: invite by hand"
        login = escape(tracking.invitation_login or request.verified_github_login or request.github_username
                       or "?", 39)
        when = f" \u00b7 {age(ctx.now - at)} ago" if at is not None else ""
        lines.append(f"{_request_link(request, ctx.settings)} **{login}** ({_repo(request)}): {text}{when}")
    return DigestSection("Org invitations pending or expired", tuple(lines))


async def unanswered_questions(ctx: DigestContext) -> DigestSection | None:
    cutoff = ctx.now - timedelta(hours=ctx.settings.digest.unanswered_after_hours)
    bot_answered = select(FaqReply.message_id)
    rows = (
        await ctx.session.scalars(
            select(DigestQuestion)
            .where(
                DigestQuestion.answered_at.is_(None),
                DigestQuestion.asked_at <= cutoff,
                DigestQuestion.message_id.not_in(bot_answered),
            )
            .order_by(DigestQuestion.asked_at)
            .limit(MAX_ITEMS_READ)
        )
    ).all()
    guild = ctx.settings.discord.guild_id
    lines = tuple(
        f"[question]({message_url(guild, q.channel_id, q.message_id)}) \u00b7 {age(ctx.now - q.asked_at)} ago: "
        f"\u201c{escape(' '.join(q.excerpt.split()), EXCERPT_CHARS)}\u201d"
        for q in rows
    )
    note = None
    if not ctx.settings.discord.message_content:
        note = ("The bot can't read messages in the eco channel (`discord.message_content` is off): only "
                "questions that mention the bot are seen.")
    return DigestSection(
        f"Questions unanswered for {ctx.settings.digest.unanswered_after_hours:g} h or more", lines, note
    )


async def faq_not_helpful(ctx: DigestContext) -> DigestSection | None:
    since = ctx.now - timedelta(days=7)
    rows = (
        await ctx.session.execute(
            select(FaqFeedback.topic_id, func.count(), func.max(FaqFeedback.at), func.max(FaqFeedback.reply_message_id))
            .where(FaqFeedback.at >= since)
            .group_by(FaqFeedback.topic_id)
            .order_by(func.count().desc())
            .limit(MAX_ITEMS_READ)
        )
    ).all()
    lines = []
    guild = ctx.settings.discord.guild_id
    for topic_id, count, last_at, reply_id in rows:
        channel = await ctx.session.scalar(
            select(FaqReply.channel_id).where(FaqReply.reply_message_id == reply_id).limit(1)
        )
        label = f"`{escape(topic_id, 64).replace('`', '')}`"
        if channel is not None:
            label = f"[{escape(topic_id, 64)}]({message_url(guild, channel, reply_id)})"
        lines.append(f"{label} \u00b7 {count} \u00d7 not helpful, last {age(ctx.now - last_at)} ago")
    return DigestSection("FAQ answers marked \u201cnot helpful\u201d this week", tuple(lines))


async def _requests(ctx: DigestContext, *where: object) -> list[TransferRequest]:
    return list(
        (
            await ctx.session.scalars(
                select(TransferRequest).where(*where).order_by(TransferRequest.id).limit(MAX_ITEMS_READ)  # type: ignore[arg-type]
            )
        ).all()
    )


DEFAULT_PROVIDERS: tuple[Provider, ...] = (
    waiting_requests,
    waiting_join_requests,
    verified_undecided,
    stalled_transfers,
    invitations,
    unanswered_questions,
    faq_not_helpful,
)


# ----- the service -------------------------------------------------------------------------------------


@dataclass
class MaintainersDigestService:
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    providers: list[Provider] = field(default_factory=lambda: list(DEFAULT_PROVIDERS))

    def register_section(self, provider: Provider, *, after: Provider | None = None) -> None:
        """Add a section (e.g. join requests waiting): placed after `after`, else at the end."""
        if provider in self.providers:
            return
        index = self.providers.index(after) + 1 if after in self.providers else len(self.providers)
        self.providers.insert(index, provider)

    async def build(self, week: str | None = None) -> Digest:
        """The digest as of now; `week` names it (the claimed week, so its marker matches the claim)."""
        now = self.clock.now()
        sections = []
        async with self.db() as session:
            ctx = DigestContext(session, self.settings, now)
            for provider in self.providers:
                section = await provider(ctx)
                if section is not None and (section.lines or section.note):
                    sections.append(section)
        return Digest(week or week_key(now), tuple(sections))

    # ----- the weekly schedule ---------------------------------------------------------------------

    def due_week(self) -> str | None:
        """This week's key once its moment has come (a late start still posts that week), else None."""
        now = self.clock.now()
        at = scheduled_at(now, self.settings.digest.weekday, self.settings.digest.hour)
        return week_key(now) if now >= at else None

    async def claim_week(self, key: str) -> WeekClaim | None:
        """Claim the week's post: the first caller wins; a claim older than the lease with no post
        recorded is taken over (its process died). None: posted, or another process holds it."""
        now = self.clock.now()
        token = secrets.token_hex(8)
        lease = timedelta(minutes=self.settings.digest.claim_lease_minutes)
        async with self.db() as session:
            inserted = await session.execute(
                dialect_insert(session, MaintainersDigestWeek)
                .values(week_key=key, claimed_at=now, claim_token=token)
                .on_conflict_do_nothing()
            )
            if inserted.rowcount == 1:
                await session.commit()
                return WeekClaim(key, token, reclaimed=False)
            taken = await session.execute(
                update(MaintainersDigestWeek)
                .where(
                    MaintainersDigestWeek.week_key == key,
                    MaintainersDigestWeek.posted_at.is_(None),
                    MaintainersDigestWeek.claimed_at < now - lease,
                )
                .values(claimed_at=now, claim_token=token)
            )
            await session.commit()
            return WeekClaim(key, token, reclaimed=True) if taken.rowcount == 1 else None

    async def record_posted(self, claim: WeekClaim, channel_id: int, message_id: int) -> bool:
        async with self.db() as session:
            result = await session.execute(
                update(MaintainersDigestWeek)
                .where(MaintainersDigestWeek.week_key == claim.week_key, MaintainersDigestWeek.posted_at.is_(None))
                .values(posted_at=self.clock.now(), channel_id=channel_id, message_id=message_id)
            )
            await session.commit()
            return result.rowcount == 1

    # ----- candidate questions ---------------------------------------------------------------------

    async def open_questions(self) -> list[tuple[int, int, int]]:
        """(message, channel, author) of the questions still open, for the listener's in-memory index."""
        since = self.clock.now() - timedelta(days=self.settings.digest.question_retention_days)
        async with self.db() as session:
            rows = await session.execute(
                select(DigestQuestion.message_id, DigestQuestion.channel_id, DigestQuestion.author_id)
                .where(DigestQuestion.answered_at.is_(None), DigestQuestion.asked_at >= since)
                .order_by(DigestQuestion.asked_at.desc())
                .limit(self.settings.digest.max_questions)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    async def record_question(self, message_id: int, channel_id: int, author_id: int, text: str) -> None:
        now = self.clock.now()
        keep = self.settings.digest.max_questions
        async with self.db() as session:
            await serialize(session, QUESTIONS_LOCK)  # the prune below must see every other insert
            await session.execute(
                dialect_insert(session, DigestQuestion)
                .values(
                    message_id=message_id, channel_id=channel_id, author_id=author_id,
                    excerpt=text[:STORED_EXCERPT_CHARS], asked_at=now,
                )
                .on_conflict_do_nothing()
            )
            # Bounded: older than the retention, or beyond the newest `max_questions`, is dropped.
            since = now - timedelta(days=self.settings.digest.question_retention_days)
            await session.execute(delete(DigestQuestion).where(DigestQuestion.asked_at < since))
            newest = select(DigestQuestion.message_id).order_by(DigestQuestion.asked_at.desc()).limit(keep)
            await session.execute(delete(DigestQuestion).where(DigestQuestion.message_id.not_in(newest)))
            await session.commit()

    async def mark_answered(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        async with self.db() as session:
            await session.execute(
                update(DigestQuestion)
                .where(DigestQuestion.message_id.in_(message_ids), DigestQuestion.answered_at.is_(None))
                .values(answered_at=self.clock.now())
            )
            await session.commit()
