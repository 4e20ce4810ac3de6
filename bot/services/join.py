"""`/eco join`: a member asks to join pallets-eco to help maintain.

The request is stored first (projects chosen from the contribute cache, an "about you" text), the GitHub
login is then proven with the device flow (bot.services.device_flow, shared with ownership verification:
here it proves only the account), a join card built from what GitHub says about that account is put to
the maintainers, who decide by reaction with the transfer cards' rules (bot.services.review: maintainers
only, never the requester, conditional UPDATEs so a race decides once), and an approval sends the org
invitation (and team memberships from `[join] teams`) and is followed until it is accepted or lapses.

No Discord here: ids are ints, results are dataclasses, errors are domain errors with user-safe text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.dialect import insert as dialect_insert
from bot.db.models.contribute import RepoFacts
from bot.db.models.join import OPEN_JOIN_STATES, REVIEWABLE_JOIN_STATES, JoinRequest, JoinVote
from bot.db.models.verification import Verification
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from bot.github import GitHubClient
from bot.http import ApiError, RateLimited, Unavailable
from bot.logging_setup import SecretFilter
from bot.markdown import escape
from bot.services import device_flow
from bot.services import verification_text as vtext
from bot.services.review import (
    APPROVE,
    DAILY_LIMIT_HINT,
    INVITATION_LIFETIME,
    LOOKING,
    REASON_GRACE,
    REJECT,
    REQUESTER_VOTE,
    STALE_CLAIM,
    VOTE_EMOJIS,
    InvitationResult,
    Tally,
    VoteOutcome,
)
from bot.services.suggestions_refresh import SEARCH_PER_MINUTE, SEARCH_PER_MINUTE_ANONYMOUS, SearchPacer

log = logging.getLogger(__name__)

MAX_PROJECTS = 3
CHOICE_LIMIT = 100  # Discord: autocomplete choice names and string values are at most 100 characters
LINKS_SHOWN = 5
INVITATION_RETRY = timedelta(minutes=10)  # a refused invitation is tried again after this (as tracking's pass)
REASON_MAX = 1500
CONTRIBUTING_URL = "https://palletsprojects.com/contributing/"
LABELS = {
    "proving": "waiting for you to sign in with GitHub",
    "submitted": "waiting for its card to be posted",
    "under_review": "under review by maintainers",
    "approved": "approved: invitation sent",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
    "member": "closed: already a member",
    "done": "done",
}
# Control characters (other than newline and tab) are dropped from the "about" text.
# Bidirectional overrides/isolates too: they would reverse or hide the text around them on the card.
_CONTROL = dict.fromkeys(
    [c for c in range(32) if c not in (9, 10)] + [127, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


@dataclass(frozen=True)
class Contributions:
    merged_prs: int | None
    open_prs: int | None
    issues: int | None
    links: tuple[tuple[str, str, str], ...]  # (kind, title, url), at most five, all from GitHub
    # A search hit GitHub's time limit (`incomplete_results`): it answered what it found so far, so the
    # counts are lower bounds (docs.github.com/en/rest/search/search#timeouts-and-incomplete-results).
    incomplete: bool = False

    def to_json(self) -> str:
        return json.dumps({"merged_prs": self.merged_prs, "open_prs": self.open_prs, "issues": self.issues,
                           "links": [list(link) for link in self.links], "incomplete": self.incomplete})

    @classmethod
    def from_json(cls, raw: str | None) -> Contributions | None:
        if not raw:
            return None
        d = json.loads(raw)
        return cls(d.get("merged_prs"), d.get("open_prs"), d.get("issues"),
                   tuple(tuple(link) for link in d.get("links", ()))[:LINKS_SHOWN],  # type: ignore[misc]
                   d.get("incomplete") is True)


@dataclass(frozen=True)
class JoinInfo:
    id: int
    requester_id: int
    state: str
    projects: tuple[str, ...]
    about: str
    github_login: str | None
    account_created_at: datetime | None
    contributions: Contributions | None
    contributions_error: str | None
    review_channel_id: int | None
    review_message_id: int | None
    review_thread_id: int | None
    decided_by: int | None
    decision_reason: str | None
    invitation_state: str | None
    invitation_error: str | None
    teams_note: str | None
    created_at: datetime
    guild_id: int

    @property
    def label(self) -> str:
        return LABELS.get(self.state, self.state)


@dataclass(frozen=True)
class JoinCard:
    info: JoinInfo
    tally: Tally
    approvals_required: int


@dataclass(frozen=True)
class ProofStart:
    join_id: int
    user_code: str
    verification_uri: str
    expires_at: datetime


@dataclass(frozen=True)
class ProofOutcome:
    join_id: int
    user_id: int
    state: str  # the request's state after the sign-in ("submitted", "member", or "proving" when it failed)
    proven: bool
    message: str


@dataclass(frozen=True)
class WaitingJoin:
    """For the maintainers' weekly digest: a join request waiting for a decision."""

    id: int
    login: str | None
    created_at: datetime
    guild_id: int
    channel_id: int | None
    message_id: int | None


@dataclass(frozen=True)
class JoinQueueEntry:
    id: int
    login: str | None
    state: str
    age: timedelta
    waiting_for: str


def _info(r: JoinRequest) -> JoinInfo:
    return JoinInfo(
        id=r.id, requester_id=r.requester_id, state=r.state, projects=tuple(json.loads(r.projects_json or "[]")),
        about=r.about, github_login=r.github_login, account_created_at=r.account_created_at,
        contributions=Contributions.from_json(r.contributions_json), contributions_error=r.contributions_error,
        review_channel_id=r.review_channel_id, review_message_id=r.review_message_id,
        review_thread_id=r.review_thread_id, decided_by=r.decided_by, decision_reason=r.decision_reason,
        invitation_state=r.invitation_state, invitation_error=r.invitation_error, teams_note=r.teams_note,
        created_at=r.created_at, guild_id=r.guild_id,
    )


def clean_about(value: str, limit: int) -> str:
    """The "about you" text as stored: control characters dropped, at most `limit` characters. It is
    escaped (no markdown, no pings) only when shown, by bot.markdown.escape."""
    return value.translate(_CONTROL).strip()[:limit]


class JoinService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        github: GitHubClient,
        clock: Clock,
        settings: Settings,
        *,
        secret_filter: SecretFilter | None = None,
        pacer: SearchPacer | None = None,
    ) -> None:
        self._db = db
        self._github = github
        self._clock = clock
        self._settings = settings
        self._filter = secret_filter
        # The search API's own per-minute budget (30 with a token, 10 without), on the bot's clock.
        self._pacer = pacer or SearchPacer(
            SEARCH_PER_MINUTE if settings.secrets.github_token else SEARCH_PER_MINUTE_ANONYMOUS,
            monotonic=lambda: clock.now().timestamp(), sleep=clock.sleep,
        )
        self._busy: set[int] = set()
        self._starting: set[int] = set()

    @property
    def org(self) -> str:
        return self._settings.github.org

    @property
    def device_flow_available(self) -> bool:
        return bool(self._settings.github.oauth_client_id)

    # ----- asking -----------------------------------------------------------------------------------

    async def project_choices(self, current: str, limit: int = 25) -> list[str]:
        """Non-archived org repositories from the contribute cache (no GitHub call), names that fit a choice."""
        needle = current.strip().lower()[:CHOICE_LIMIT]
        async with self._db() as session:
            names = list(await session.scalars(
                select(RepoFacts.full_name).where(RepoFacts.archived.is_(False)).order_by(RepoFacts.name_lower)
            ))
        short = [n.split("/", 1)[-1] for n in names if len(n.split("/", 1)[-1]) <= CHOICE_LIMIT]
        first = [n for n in short if n.lower().startswith(needle)]
        rest = [n for n in short if needle in n.lower() and n not in first]
        return (first + rest)[:limit]

    async def _known_projects(self, session: AsyncSession) -> dict[str, str]:
        rows = await session.scalars(select(RepoFacts.full_name).where(RepoFacts.archived.is_(False)))
        return {name.split("/", 1)[-1].lower(): name.split("/", 1)[-1] for name in rows}

    async def ask(self, user_id: int, guild_id: int, projects: Iterable[str | None], about: str) -> JoinInfo:
        about = clean_about(about or "", self._settings.join.about_max_chars)
        if not about:
            raise InvalidInput("Tell the maintainers a little about you in `about` (links, experience).")
        now = self._clock.now()
        async with self._db() as session:
            known = await self._known_projects(session)
            chosen: list[str] = []
            for raw in projects:
                value = (raw or "").strip()
                if not value:
                    continue
                key = value.lower().removeprefix(f"{self.org.lower()}/")
                if key not in known:
                    hint = "" if known else " (the list of projects isn't loaded yet: try again in a few minutes)"
                    raise InvalidInput(
                        f"`{escape(value, 100)}` is not one of the {self.org} projects I know{hint}. Pick one "
                        "from the list, or leave the projects empty to help the organisation in general."
                    )
                if known[key] not in chosen:
                    chosen.append(known[key])
            if len(chosen) > MAX_PROJECTS:
                raise InvalidInput(f"Pick at most {MAX_PROJECTS} projects.")
            await self._guard(session, user_id, now)
            row = JoinRequest(guild_id=guild_id, requester_id=user_id, state="proving",
                              projects_json=json.dumps(chosen), about=about, created_at=now, updated_at=now)
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # a second /eco join at the same moment: the unique index decided
                raise Conflict("You already have an open join request: `/eco status` shows it.") from None
            return _info(row)

    async def _guard(self, session: AsyncSession, user_id: int, now: datetime) -> None:
        open_one = await session.scalar(
            select(JoinRequest).where(JoinRequest.requester_id == user_id, JoinRequest.state.in_(OPEN_JOIN_STATES))
        )
        if open_one is not None:
            raise Conflict(f"You already have join request #{open_one.id} ({LABELS[open_one.state]}). "
                           "`/eco status` shows it; `/eco withdraw` withdraws it.")
        # Each request that is signed in puts a card (a thread, three GitHub searches) before the maintainers:
        # withdrawing and asking again waits out the transfers' submission cooldown too.
        cooldown = timedelta(seconds=self._settings.review.submit_cooldown_seconds)
        asked = await session.scalar(
            select(func.max(JoinRequest.created_at)).where(JoinRequest.requester_id == user_id))
        if asked is not None and cooldown:
            if asked.tzinfo is None:
                asked = asked.replace(tzinfo=now.tzinfo)
            left = (asked + cooldown - now).total_seconds()
            if left > 0:
                seconds = max(1, int(left + 0.999))
                raise Conflict(f"You asked moments ago. Please wait {seconds} seconds, then ask again.")
        wait = timedelta(days=self._settings.join.retry_after_days)
        last = await session.scalar(
            select(func.max(JoinRequest.decided_at)).where(
                JoinRequest.requester_id == user_id, JoinRequest.state == "rejected"
            )
        )
        if last is not None and now < last + wait:
            raise Conflict(f"Your last join request was declined on {last:%Y-%m-%d}. You can ask again from "
                           f"{last + wait:%Y-%m-%d}; meanwhile, contributions to the projects are welcome: "
                           f"{CONTRIBUTING_URL}")

    async def _own(self, session: AsyncSession, join_id: int, user_id: int) -> JoinRequest:
        row = await session.get(JoinRequest, join_id)
        if row is None or row.requester_id != user_id:
            raise NotFoundError("I can't find that join request among yours.")
        return row

    # ----- proving the GitHub login -----------------------------------------------------------------

    async def start_proof(self, join_id: int, user_id: int) -> ProofStart:
        client_id = self._settings.github.oauth_client_id
        if not client_id:
            raise Conflict(vtext.DEVICE_NOT_CONFIGURED)
        async with self._db() as session:
            row = await self._own(session, join_id, user_id)
            if row.state != "proving":
                raise Conflict(f"Join request #{join_id} is {LABELS.get(row.state, row.state)}: nothing to sign in "
                               "for.")
            # One cooldown for every "Sign in with GitHub" of this member, transfers' and joins' alike.
            last_join = await session.scalar(
                select(func.max(JoinRequest.device_started_at)).where(JoinRequest.requester_id == user_id))
            last_verify = await session.scalar(
                select(func.max(Verification.created_at)).where(
                    Verification.user_id == user_id, Verification.method == "device"))
            last = max((t for t in (last_join, last_verify) if t is not None), default=None)
            device_flow.check_cooldown(last, self._clock.now(), self._settings.github.sign_in_cooldown_seconds)
        if user_id in self._starting:
            raise Conflict(vtext.sign_in_cooldown(1))
        self._starting.add(user_id)
        try:
            code = await device_flow.request_code(self._github, client_id)
        finally:
            self._starting.discard(user_id)
        self._hide(code.device_code)
        now = self._clock.now()
        interval = max(1, code.interval)
        expires = now + timedelta(seconds=code.expires_in)
        async with self._db() as session:
            done = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.state == "proving")
                .values(device_code=code.device_code, user_code=code.user_code,
                        verification_uri=code.verification_uri, device_interval=interval,
                        next_poll_at=now + timedelta(seconds=interval), device_expires_at=expires,
                        device_started_at=now, device_error=None, proof_note=None, proof_done=False,
                        proof_notified_at=None, updated_at=now)
            )
            await session.commit()
        if done.rowcount != 1:
            raise Conflict(f"Join request #{join_id} changed meanwhile: `/eco status` shows where it stands.")
        return ProofStart(join_id, code.user_code, code.verification_uri, expires)

    async def poll_due(self) -> None:
        now = self._clock.now()
        async with self._db() as session:
            ids = list(await session.scalars(
                select(JoinRequest.id)
                .where(JoinRequest.state == "proving", JoinRequest.device_code.is_not(None))
                .where((JoinRequest.next_poll_at <= now) | (JoinRequest.device_expires_at <= now))
                .order_by(JoinRequest.next_poll_at)
            ))
        for join_id in ids:
            await self.poll_once(join_id)

    async def poll_once(self, join_id: int) -> None:
        if join_id in self._busy:
            return
        self._busy.add(join_id)
        try:
            await self._poll(join_id)
        finally:
            self._busy.discard(join_id)

    async def _poll(self, join_id: int) -> None:
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id)
        if row is None or row.state != "proving" or not row.device_code:
            return
        now = self._clock.now()
        code = row.device_code
        if row.device_expires_at is not None and now >= row.device_expires_at:
            await self._end_proof(join_id, code, vtext.expired(row.device_error))
            return
        if row.next_poll_at is not None and now < row.next_poll_at:
            return
        client_id = self._settings.github.oauth_client_id
        if not client_id:
            await self._end_proof(join_id, code, vtext.DEVICE_NOT_CONFIGURED)
            return
        interval = row.device_interval or 5
        step = await device_flow.poll(self._github, client_id, code, interval)
        if step.token:
            await self._conclude(row, step.token)
        elif step.state is not None:
            await self._end_proof(join_id, code, step.message or "")
        else:
            async with self._db() as session:
                await session.execute(
                    update(JoinRequest)
                    .where(JoinRequest.id == join_id, JoinRequest.device_code == code)
                    .values(device_interval=step.interval or interval,
                            next_poll_at=now + timedelta(seconds=step.wait or interval),
                            device_error=step.error, updated_at=now)
                )
                await session.commit()

    async def _end_proof(self, join_id: int, code: str, message: str) -> None:
        """The sign-in ended without a proof: the request stays waiting for another sign-in."""
        async with self._db() as session:
            await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.device_code == code)
                .values(device_code=None, next_poll_at=None, proof_note=message + " " + SIGN_IN_AGAIN,
                        proof_done=True, proof_notified_at=None, updated_at=self._clock.now())
            )
            await session.commit()
        self._unhide(code)

    async def _conclude(self, row: JoinRequest, token: str) -> None:
        self._hide(token)
        code = row.device_code or ""
        try:
            try:
                user = await self._github.get_authenticated_user(token)
            finally:
                await self._revoke(token)
        except RateLimited as exc:
            await self._end_proof(row.id, code, vtext.rate_limited(exc.retry_after))
            return
        except ApiError as exc:
            log.warning("join %s: GitHub failed after sign-in (%s)", row.id, exc.status)
            await self._end_proof(row.id, code, vtext.GITHUB_FAILED_AFTER_SIGN_IN)
            return
        finally:
            self._unhide(token)
            del token  # dropped: nothing keeps the token past this point
        login = user.login
        member = await self._is_member(login)
        try:
            created = await self._github.get_user_created_at(login)
        except ApiError:
            created = None  # the card says the age is unknown
        now = self._clock.now()
        shown = escape(login, 39)
        if member:
            state = "member"
            note = (f"You signed in as **{shown}**, who is already a member of **{self.org}**: there is nothing "
                    "to ask. Welcome back! Pick an issue with `/eco contribute`.")
        else:
            state = "submitted"
            note = (f"✅ You signed in as **{shown}**. Your join request #{row.id} is now with the maintainers; "
                    "you'll hear from me when they decide. `/eco status` shows where it stands.")
        async with self._db() as session:
            done = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == row.id, JoinRequest.state == "proving", JoinRequest.device_code == code)
                .values(state=state, github_login=login, github_user_id=user.id, proven_at=now,
                        account_created_at=created, device_code=None, next_poll_at=None, proof_note=note,
                        proof_done=True, proof_notified_at=None, updated_at=now)
            )
            await session.commit()
        self._unhide(code)
        if done.rowcount == 1:
            log.info("join %s: login proven (%s)", row.id, state)

    async def _is_member(self, login: str) -> bool:
        admin = self._settings.secrets.github_org_admin_token
        try:
            if admin:
                return await self._github.org_membership(self.org, login, token=admin) == "active"
            return await self._github.is_org_member(self.org, login)
        except ApiError:
            return False  # unknown: the maintainers see the card, the invitation step checks again

    async def _revoke(self, token: str) -> None:
        client_id = self._settings.github.oauth_client_id
        secret = self._settings.secrets.github_oauth_client_secret
        if not client_id or not secret:
            return
        try:
            await self._github.revoke_token(client_id, secret, token)
        except ApiError as exc:
            log.warning("could not revoke a join sign-in token (%s)", exc.status)

    async def resume(self) -> None:
        """After a restart: device codes that ran out while the bot was away end; the rest are polled."""
        now = self._clock.now()
        async with self._db() as session:
            rows = list(await session.scalars(
                select(JoinRequest).where(JoinRequest.state == "proving", JoinRequest.device_code.is_not(None))))
        for row in rows:
            if row.device_expires_at is not None and now >= row.device_expires_at:
                await self._end_proof(row.id, row.device_code or "", vtext.expired(row.device_error))
            else:
                self._hide(row.device_code)

    async def expire_unproven(self) -> list[int]:
        """Requests never proven within `review.draft_expiry_days` (and with no sign-in running) are
        withdrawn, so an abandoned one doesn't hold the member's single open join request forever."""
        now = self._clock.now()
        cutoff = now - timedelta(days=self._settings.review.draft_expiry_days)
        async with self._db() as session:
            ids = list(await session.scalars(
                select(JoinRequest.id).where(JoinRequest.state == "proving", JoinRequest.device_code.is_(None),
                                             JoinRequest.created_at < cutoff)))
            if ids:
                await session.execute(
                    update(JoinRequest)
                    .where(JoinRequest.id.in_(ids), JoinRequest.state == "proving", JoinRequest.device_code.is_(None))
                    .values(state="withdrawn", updated_at=now))
                await session.commit()
        return ids

    async def untold_proofs(self) -> list[ProofOutcome]:
        async with self._db() as session:
            rows = await session.scalars(
                select(JoinRequest)
                .where(JoinRequest.proof_done.is_(True), JoinRequest.proof_notified_at.is_(None))
                .order_by(JoinRequest.id)
            )
            return [ProofOutcome(r.id, r.requester_id, r.state, r.github_login is not None, r.proof_note or "")
                    for r in rows]

    async def mark_proof_told(self, join_id: int) -> None:
        async with self._db() as session:
            await session.execute(
                update(JoinRequest).where(JoinRequest.id == join_id).values(proof_notified_at=self._clock.now()))
            await session.commit()

    # ----- the card ---------------------------------------------------------------------------------

    async def gather_contributions(self, join_id: int) -> None:
        """What the person already did in the org, from GitHub's search (paced: search has its own budget).
        Read once, before the card is first posted."""
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id)
        if row is None or row.github_login is None or row.contributions_json is not None:
            return
        base = f"org:{self.org} author:{row.github_login}"
        queries = (("merged PR", f"{base} is:pr is:merged"), ("open PR", f"{base} is:pr is:open"),
                   ("issue", f"{base} is:issue"))
        counts: list[int] = []
        links: list[tuple[str, str, str]] = []
        error = None
        incomplete = False
        try:
            for kind, query in queries:
                await self._pacer.wait()
                page = await self._github.search_issues(query, per_page=LINKS_SHOWN)
                counts.append(page.total_count)
                incomplete = incomplete or page.incomplete_results
                web = self._settings.github.web_url.rstrip("/") + "/"
                links.extend((kind, item.title, item.html_url) for item in page.items
                             if item.html_url.startswith(web))
        except ApiError as exc:
            log.warning("join %s: contribution search failed (%s)", join_id, exc.status)
            error = "GitHub's search didn't answer; the contributions could not be read."
        data = None if error else Contributions(counts[0], counts[1], counts[2], tuple(links[:LINKS_SHOWN]),
                                                incomplete).to_json()
        async with self._db() as session:
            await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.contributions_json.is_(None))
                .values(contributions_json=data, contributions_error=error)
            )
            await session.commit()

    async def card(self, join_id: int) -> JoinCard:
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id)
            if row is None:
                raise NotFoundError(f"There is no join request #{join_id}.")
            return JoinCard(_info(row), await _tally(session, join_id), self._settings.join.approvals_required)

    async def info(self, join_id: int) -> JoinInfo:
        return (await self.card(join_id)).info

    async def requests_without_card(self) -> list[int]:
        async with self._db() as session:
            return list(await session.scalars(
                select(JoinRequest.id)
                .where(JoinRequest.state == "submitted", JoinRequest.review_message_id.is_(None))
                .order_by(JoinRequest.id)
            ))

    async def card_posted(self, join_id: int, *, channel_id: int, message_id: int, thread_id: int | None) -> None:
        values: dict[str, object] = {"review_channel_id": channel_id, "review_message_id": message_id}
        if thread_id is not None:
            values["review_thread_id"] = thread_id
        async with self._db() as session:
            await session.execute(update(JoinRequest).where(JoinRequest.id == join_id).values(**values))
            await session.execute(
                update(JoinRequest).where(JoinRequest.id == join_id, JoinRequest.card_posted_at.is_(None))
                .values(card_posted_at=self._clock.now()))
            await session.execute(
                update(JoinRequest).where(JoinRequest.id == join_id, JoinRequest.state == "submitted")
                .values(state="under_review", updated_at=self._clock.now())
            )
            await session.commit()

    async def card_deleted(self, message_id: int) -> int | None:
        """The card of a request still waiting for votes was deleted: it goes back to "submitted" so the
        background pass posts it again (votes already counted stay). Decided requests' cards are history."""
        async with self._db() as session:
            join_id = await session.scalar(select(JoinRequest.id).where(JoinRequest.review_message_id == message_id))
            if join_id is None:
                return None
            done = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.review_message_id == message_id,
                       JoinRequest.state.in_(REVIEWABLE_JOIN_STATES))
                .values(state="submitted", review_message_id=None, card_posted_at=None)
            )
            await session.commit()
        return join_id if done.rowcount == 1 else None

    async def request_for_message(self, message_id: int) -> int | None:
        async with self._db() as session:
            return await session.scalar(select(JoinRequest.id).where(JoinRequest.review_message_id == message_id))

    async def open_cards(self) -> list[tuple[int, int, int]]:
        async with self._db() as session:
            rows = await session.execute(
                select(JoinRequest.id, JoinRequest.review_channel_id, JoinRequest.review_message_id)
                .where(JoinRequest.state.in_(REVIEWABLE_JOIN_STATES), JoinRequest.review_message_id.is_not(None))
                .order_by(JoinRequest.id)
            )
            return [(r[0], r[1], r[2]) for r in rows]

    # ----- votes ------------------------------------------------------------------------------------

    async def check_not_requester(self, join_id: int, user_id: int, what: str) -> None:
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id)
        if row is not None and row.requester_id == user_id:
            raise NotAllowed(f"You made join request #{join_id}: another maintainer must {what} it.")

    async def record_vote(
        self, join_id: int, user_id: int, emoji: str, is_maintainer: bool, added: bool, *, is_bot: bool = False
    ) -> VoteOutcome:
        now = self._clock.now()
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id, with_for_update=True)  # PostgreSQL: votes in turn
            if row is None:
                return VoteOutcome(join_id, "ignored", None, reason="unknown request")
            why = _ignore_reason(row, user_id, emoji, is_maintainer, is_bot)
            if why is not None:
                return VoteOutcome(join_id, "ignored", row.state, reason=why)
            # The write first: it takes SQLite's write lock, so what is read next is current.
            if added:
                stmt = dialect_insert(session, JoinVote).values(join_id=join_id, user_id=user_id, emoji=emoji, at=now)
                result = await session.execute(stmt.on_conflict_do_nothing())
            else:
                result = await session.execute(delete(JoinVote).where(
                    JoinVote.join_id == join_id, JoinVote.user_id == user_id, JoinVote.emoji == emoji))
            await session.refresh(row)
            if row.state not in REVIEWABLE_JOIN_STATES:
                state = row.state
                await session.rollback()
                return VoteOutcome(join_id, "ignored", state, reason="already decided")
            status = ("recorded" if added else "removed") if result.rowcount == 1 else "unchanged"
            outcome = await self._decide(session, row, now=now, status=status)
            await session.commit()
            return outcome

    async def sync_votes(
        self, join_id: int, reactions: Mapping[str, Iterable[int]], maintainer_ids: Collection[int]
    ) -> VoteOutcome:
        """Catch up with the card's reactions as they are now (votes made while the bot was offline)."""
        now = self._clock.now()
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id, with_for_update=True)
            if row is None:
                return VoteOutcome(join_id, "ignored", None, reason="unknown request")
            wanted = {(u, e) for e, users in reactions.items() if e in VOTE_EMOJIS for u in users
                      if u in maintainer_ids and u != row.requester_id}
            await session.execute(text("UPDATE join_requests SET state = state WHERE id = :id"), {"id": join_id})
            await session.refresh(row)
            if row.state not in REVIEWABLE_JOIN_STATES:
                state = row.state
                await session.rollback()
                return VoteOutcome(join_id, "ignored", state, reason="already decided")
            votes = (await session.execute(
                select(JoinVote.user_id, JoinVote.emoji, JoinVote.at).where(JoinVote.join_id == join_id))).all()
            have = {(r[0], r[1]) for r in votes}
            # Votes made on a card that was deleted since are not among this card's reactions: they stay.
            posted = row.card_posted_at
            earlier = {(r[0], r[1]) for r in votes if posted is not None and r[2] < posted}
            for user_id, emoji in have - wanted - earlier:
                await session.execute(delete(JoinVote).where(
                    JoinVote.join_id == join_id, JoinVote.user_id == user_id, JoinVote.emoji == emoji))
            for user_id, emoji in sorted(wanted - have):
                await session.execute(dialect_insert(session, JoinVote).values(
                    join_id=join_id, user_id=user_id, emoji=emoji, at=now).on_conflict_do_nothing())
            changed = bool(wanted - have or have - wanted - earlier)
            outcome = await self._decide(session, row, now=now, status="recorded" if changed else "unchanged")
            await session.commit()
            return outcome

    async def _decide(self, session: AsyncSession, row: JoinRequest, *, now: datetime, status: str) -> VoteOutcome:
        tally = await _tally(session, row.id)
        base = VoteOutcome(row.id, status, row.state, tally)
        if tally.rejections:
            to, actor, extra = "rejected", tally.rejections[0], {}
        elif len(tally.approvals) >= self._settings.join.approvals_required:
            to, actor, extra = "approved", tally.approvals[-1], {"invitation_state": "pending"}
        else:
            return base
        # One conditional UPDATE: concurrent votes decide once.
        result = await session.execute(
            update(JoinRequest)
            .where(JoinRequest.id == row.id, JoinRequest.state.in_(REVIEWABLE_JOIN_STATES))
            .values(state=to, decided_by=actor, decided_at=now, updated_at=now, **extra)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return base
        return replace(base, state=to, decision=to, decided_by=actor)

    async def set_rejection_reason(self, join_id: int, user_id: int, is_maintainer: bool, reason: str) -> bool:
        if not is_maintainer:
            raise NotAllowed("Only Pallets maintainers can do that.")
        await self.check_not_requester(join_id, user_id, "explain the rejection of")
        reason = reason.translate(_CONTROL).strip()[:REASON_MAX]
        if not reason:
            raise InvalidInput("Write the reason: it is sent to the person who asked.")
        async with self._db() as session:
            done = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.state == "rejected",
                       JoinRequest.decision_reason.is_(None))
                .values(decision_reason=reason, updated_at=self._clock.now())
            )
            await session.commit()
        return done.rowcount == 1

    async def claim_requester_notice(self, join_id: int, *, reclaim_before: datetime | None = None) -> bool:
        """Claim telling the requester about the decision (once; a claim the process died holding is taken
        again by a later process, `reclaim_before` being that process's start)."""
        cond = JoinRequest.requester_notified_at.is_(None)
        if reclaim_before is not None:
            cond = or_(cond, (JoinRequest.requester_notified_at < reclaim_before)
                       & JoinRequest.requester_told_at.is_(None))
        async with self._db() as session:
            done = await session.execute(
                update(JoinRequest).where(JoinRequest.id == join_id, cond)
                .values(requester_notified_at=self._clock.now())
            )
            await session.commit()
        return done.rowcount == 1

    async def record_told(self, join_id: int) -> None:
        async with self._db() as session:
            await session.execute(
                update(JoinRequest).where(JoinRequest.id == join_id).values(requester_told_at=self._clock.now()))
            await session.commit()

    async def untold_approvals(self, before: datetime) -> list[int]:
        async with self._db() as session:
            return list(await session.scalars(
                select(JoinRequest.id).where(
                    JoinRequest.state.in_(("approved", "done")), JoinRequest.requester_told_at.is_(None),
                    or_(JoinRequest.requester_notified_at.is_(None), JoinRequest.requester_notified_at < before),
                ).order_by(JoinRequest.id)
            ))

    async def unexplained_rejections(self) -> list[int]:
        cutoff = self._clock.now() - REASON_GRACE
        async with self._db() as session:
            return list(await session.scalars(
                select(JoinRequest.id).where(
                    JoinRequest.state == "rejected", JoinRequest.decision_reason.is_(None),
                    JoinRequest.requester_notified_at.is_(None), JoinRequest.decided_at <= cutoff,
                )
            ))

    # ----- the invitation ---------------------------------------------------------------------------

    async def ensure_invitation(self, join_id: int) -> InvitationResult:
        """Invite the proven login to the org (claimed first, so it happens once), then the teams."""
        now = self._clock.now()
        token = self._settings.secrets.github_org_admin_token
        org, people = self.org, f"{self._settings.github.web_url}/orgs/{self.org}/people"
        claimable = ["pending", "failed"] + (["manual"] if token else [])
        async with self._db() as session:
            claim = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.state == "approved",
                       or_(JoinRequest.invitation_state.in_(claimable),
                           (JoinRequest.invitation_state == "sending")
                           & (JoinRequest.invitation_at < now - STALE_CLAIM)))
                .values(invitation_state="sending", invitation_at=now)
            )
            row = await session.get(JoinRequest, join_id)
            await session.commit()
        login = row.github_login if row else None
        if claim.rowcount != 1 or row is None:
            return InvitationResult(join_id, "skipped", login, "already handled", False)
        if login is None:  # can't happen: a card is only posted for a proven login
            return await self._finish(join_id, "manual", None, "No proven GitHub login: nobody to invite.", True)
        shown = escape(login, 39)
        if not token:
            return await self._finish(
                join_id, "manual", login,
                f"Invite **{shown}** to {org} by hand: {people} (no org admin token is configured, so the bot "
                "can't)." + self._teams_hint(row), True)
        try:
            membership = await self._github.org_membership(org, login, token=token)
            if membership == "active":
                result = await self._finish(join_id, "member", login, f"**{shown}** is already a member of {org}.",
                                            True, state="done")
            else:
                if membership != "pending":
                    await self._github.invite_to_org(org, login, token=token)
                result = await self._finish(
                    join_id, "sent", login,
                    f"Invited **{shown}** to {org}. They need to accept at "
                    f"{self._settings.github.web_url}/orgs/{org}/invitation.", True)
        except ApiError as exc:
            log.warning("join %s: org invitation failed: %s", join_id, exc.message)
            hint = f" ({DAILY_LIMIT_HINT})" if exc.status in (403, 422) and not isinstance(exc, RateLimited) else ""
            return await self._finish(
                join_id, "failed", login,
                f"Inviting **{shown}** to {org} failed: {escape(exc.message, 200)}{hint}. Invite them by hand: "
                f"{people}", row.invitation_error is None, error=exc.message)
        note = await self._add_to_teams(row, token)
        return replace(result, message=result.message + (f"\n{note}" if note else ""))

    def _teams_hint(self, row: JoinRequest) -> str:
        teams = self._teams_for(row)
        return f" Teams to add them to: {', '.join(teams)}." if teams else ""

    def _teams_for(self, row: JoinRequest) -> list[str]:
        mapping = {k.lower(): v for k, v in self._settings.join.teams.items()}
        return [mapping[p.lower()] for p in json.loads(row.projects_json or "[]") if p.lower() in mapping]

    async def _add_to_teams(self, row: JoinRequest, token: str) -> str:
        lines = []
        for slug in self._teams_for(row):
            try:
                state = await self._github.add_team_member(self.org, slug, row.github_login or "", token=token)
                lines.append(f"Team `{slug}`: {'added' if state == 'active' else 'added once they accept'}.")
            except ApiError as exc:
                lines.append(f"Team `{slug}`: GitHub refused ({escape(exc.message, 150)}); add them by hand.")
        note = "\n".join(lines) or None
        if note:
            async with self._db() as session:
                await session.execute(update(JoinRequest).where(JoinRequest.id == row.id).values(teams_note=note))
                await session.commit()
        return note or ""

    async def _finish(self, join_id: int, inv_state: str, login: str | None, message: str, report: bool, *,
                      error: str | None = None, state: str | None = None) -> InvitationResult:
        values: dict[str, object] = {"invitation_state": inv_state, "invitation_at": self._clock.now(),
                                     "invitation_error": error}
        if state is not None:
            values["state"] = state
        async with self._db() as session:
            await session.execute(update(JoinRequest).where(JoinRequest.id == join_id).values(**values))
            await session.commit()
        return InvitationResult(join_id, inv_state, login, message, report)

    async def invitations_to_retry(self) -> list[int]:
        """Approved requests whose invitation is still to send: never claimed, claimed by a process that
        died (after STALE_CLAIM), or refused by GitHub (tried again after INVITATION_RETRY)."""
        now = self._clock.now()
        async with self._db() as session:
            return list(await session.scalars(
                select(JoinRequest.id).where(
                    JoinRequest.state == "approved",
                    or_(JoinRequest.invitation_state == "pending",
                        (JoinRequest.invitation_state == "sending") & (JoinRequest.invitation_at < now - STALE_CLAIM),
                        (JoinRequest.invitation_state == "failed")
                        & (JoinRequest.invitation_at < now - INVITATION_RETRY)),
                ).order_by(JoinRequest.id)
            ))

    async def lapsed_invitations(self) -> list[int]:
        if not self._settings.secrets.github_org_admin_token:
            return []
        cutoff = self._clock.now() - INVITATION_LIFETIME
        async with self._db() as session:
            return list(await session.scalars(
                select(JoinRequest.id).where(
                    JoinRequest.state == "approved", JoinRequest.invitation_state.in_(("sent", "resent")),
                    JoinRequest.invitation_at <= cutoff,
                )
            ))

    async def recheck_invitation(self, join_id: int) -> InvitationResult:
        """Seven days on (invitations expire then): joined → done; expired → one new invitation and the
        person is told; the second lapses too → the maintainers take it from there (as for transfers)."""
        now = self._clock.now()
        token = self._settings.secrets.github_org_admin_token
        org, people = self.org, f"{self._settings.github.web_url}/orgs/{self.org}/people"
        async with self._db() as session:
            row = await session.get(JoinRequest, join_id)
            if row is None or row.invitation_state not in ("sent", "resent") or not token or not row.github_login:
                return InvitationResult(join_id, "skipped", None, "not sent", False)
            before_state, before_at, login = row.invitation_state, row.invitation_at, row.github_login
            claim = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.invitation_state == before_state,
                       JoinRequest.invitation_at == before_at, JoinRequest.invitation_at <= now - INVITATION_LIFETIME)
                .values(invitation_state="sending", invitation_at=now)
            )
            await session.commit()
        if claim.rowcount != 1:
            return InvitationResult(join_id, "skipped", login, "already handled", False)
        shown = escape(login, 39)
        try:
            membership = await self._github.org_membership(org, login, token=token)
        except ApiError as exc:
            await self._restore(join_id, before_state, before_at)
            return InvitationResult(join_id, "skipped", login, exc.message, False)
        if membership == "active":
            return await self._finish(join_id, "member", login, f"**{shown}** joined {org}.", True, state="done")
        if membership == "pending":
            return await self._finish(join_id, before_state, login, "still pending", False)
        if before_state == "resent":
            return await self._finish(
                join_id, "lapsed", login,
                f"⚠️ The second invitation to **{shown}** expired unanswered too. Ask them whether they still want "
                f"to join, then invite them by hand: {people}", True, error="the second invitation expired",
                state="done")
        try:
            await self._github.invite_to_org(org, login, token=token)
        except ApiError as exc:
            if isinstance(exc, RateLimited | Unavailable):
                await self._restore(join_id, before_state, before_at)
                return InvitationResult(join_id, "skipped", login, exc.message, False)
            return await self._finish(
                join_id, "lapsed", login,
                f"⚠️ The invitation to **{shown}** expired unanswered and GitHub refused a new one: "
                f"{escape(exc.message, 200)}. Invite them by hand: {people}", True, error=exc.message, state="done")
        result = await self._finish(
            join_id, "resent", login,
            f"The invitation to **{shown}** expired unanswered (GitHub invitations last 7 days): the bot sent a new "
            "one and told them.", True)
        accept = f"{self._settings.github.web_url}/orgs/{org}/invitation"
        return replace(result, requester_message=(
            f"Your invitation to join **{org}** on GitHub expired before it was accepted (invitations last 7 days), "
            f"so I sent **{shown}** a new one. Please accept it at {accept} within 7 days."))

    async def _restore(self, join_id: int, state: str, at: datetime | None) -> None:
        async with self._db() as session:
            await session.execute(
                update(JoinRequest).where(JoinRequest.id == join_id, JoinRequest.invitation_state == "sending")
                .values(invitation_state=state, invitation_at=at))
            await session.commit()

    # ----- status, withdraw, queue, digest ----------------------------------------------------------

    async def for_user(self, user_id: int, limit: int = 3) -> list[JoinInfo]:
        async with self._db() as session:
            rows = await session.scalars(
                select(JoinRequest).where(JoinRequest.requester_id == user_id)
                .order_by(JoinRequest.id.desc()).limit(limit))
            return [_info(r) for r in rows]

    async def open_for_user(self, user_id: int) -> JoinInfo | None:
        async with self._db() as session:
            row = await session.scalar(select(JoinRequest).where(
                JoinRequest.requester_id == user_id, JoinRequest.state.in_(("proving", "submitted", "under_review"))))
            return _info(row) if row else None

    async def withdraw(self, join_id: int, user_id: int) -> JoinInfo:
        now = self._clock.now()
        async with self._db() as session:
            row = await self._own(session, join_id, user_id)
            done = await session.execute(
                update(JoinRequest)
                .where(JoinRequest.id == join_id, JoinRequest.requester_id == user_id,
                       JoinRequest.state.in_(("proving", "submitted", "under_review")))
                .values(state="withdrawn", device_code=None, next_poll_at=None, updated_at=now)
            )
            await session.commit()
            await session.refresh(row)
        if done.rowcount != 1:
            raise Conflict(f"Join request #{join_id} is {LABELS.get(row.state, row.state)}: it can't be withdrawn "
                           "now.")
        return _info(row)

    async def queue(self) -> list[JoinQueueEntry]:
        now = self._clock.now()
        required = self._settings.join.approvals_required
        async with self._db() as session:
            rows = list(await session.scalars(
                select(JoinRequest).where(JoinRequest.state.in_(("submitted", "under_review", "approved")))
                .order_by(JoinRequest.id)))
            out = []
            for r in rows:
                if r.state == "approved":
                    waiting = f"the invitation to be accepted ({r.invitation_state or 'pending'})"
                elif r.state == "submitted":
                    waiting = "the join card to be posted"
                else:
                    tally = await _tally(session, r.id)
                    waiting = f"maintainer votes ({len(tally.approvals)}/{required} approvals)"
                out.append(JoinQueueEntry(r.id, r.github_login, r.state, now - r.created_at, waiting))
            return out

    async def waiting_join_requests(self) -> list[WaitingJoin]:
        """Join requests waiting for the maintainers' decision, oldest first (for the weekly digest)."""
        async with self._db() as session:
            rows = await session.scalars(
                select(JoinRequest).where(JoinRequest.state.in_(REVIEWABLE_JOIN_STATES))
                .order_by(JoinRequest.created_at, JoinRequest.id))
            return [WaitingJoin(r.id, r.github_login, r.created_at, r.guild_id, r.review_channel_id,
                                r.review_message_id) for r in rows]

    # ----- helpers ----------------------------------------------------------------------------------

    def _hide(self, secret: str | None) -> None:
        if self._filter is not None:
            self._filter.add(secret)

    def _unhide(self, secret: str | None) -> None:
        if self._filter is not None:
            self._filter.discard(secret)


SIGN_IN_AGAIN = "Press **Sign in with GitHub** on your join request (`/eco status`) to try again."


def _ignore_reason(row: JoinRequest, user_id: int, emoji: str, is_maintainer: bool, is_bot: bool) -> str | None:
    if is_bot:
        return "bot reaction"
    if emoji not in VOTE_EMOJIS:
        return "not a voting reaction"
    if user_id == row.requester_id:
        return REQUESTER_VOTE
    if not is_maintainer:
        return "not a maintainer"
    if row.state not in REVIEWABLE_JOIN_STATES:
        return "already decided"
    return None


async def _tally(session: AsyncSession, join_id: int) -> Tally:
    rows = (await session.execute(
        select(JoinVote.user_id, JoinVote.emoji).where(JoinVote.join_id == join_id).order_by(JoinVote.at, JoinVote.id)
    )).all()
    by = {e: tuple(u for u, em in rows if em == e) for e in VOTE_EMOJIS}
    return Tally(approvals=by[APPROVE], rejections=by[REJECT], looking=by[LOOKING])
