"""Review decisions: who counts, when a request is decided, and that it is decided exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.config import Settings, parse_settings
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.review import ChecklistItem, ReviewTracking, ReviewVote
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.errors import Conflict, NotAllowed
from bot.github import GitHubClient
from bot.pypi import PyPIClient
from bot.services.review import APPROVE, LOOKING, REJECT, ReviewService
from tests.dburl import database_url
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI

MAINT_A, MAINT_B, MAINT_C = 501, 502, 503
REQUESTER, STRANGER, BOT = 601, 602, 700
ADMIN_TOKEN = "ghs_orgadmintoken0000000000000000000"


def make_settings(*, github_url: str = "http://127.0.0.1:9", pypi_url: str = "http://127.0.0.1:9",
                  admin_token: str | None = None, **sections: dict[str, Any]) -> Settings:
    raw: dict[str, Any] = {
        "discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]},
        "github": {"api_url": f"{github_url}/api", "web_url": f"{github_url}/web"},
        "pypi": {"url": pypi_url},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    env = {"DISCORD_TOKEN": "x"}
    if admin_token:
        env["GITHUB_ORG_ADMIN_TOKEN"] = admin_token
    return parse_settings(raw, env)


@pytest.fixture
async def db(tmp_path):
    engine = create_engine(database_url(tmp_path, "t"))
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake_github():
    async with FakeGitHub() as fake:
        fake.add_org("pallets-eco", admins=["org-admin"])
        fake.tokens[ADMIN_TOKEN] = "org-admin"
        fake.add_user("alice")
        yield fake


@pytest.fixture
async def fake_pypi():
    async with FakePyPI() as fake:
        yield fake


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def github_client(http: aiohttp.ClientSession, fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(http, api_url=fake.api_url, web_url=fake.web_url, token=fake.bot_token,
                        retries=1, retry_base_delay=0.01, timeout=3)


def pypi_client(http: aiohttp.ClientSession, fake: FakePyPI) -> PyPIClient:
    return PyPIClient(http, url=fake.url, retries=1, retry_base_delay=0.01, timeout=3)


async def add_request(db, clock: FakeClock, *, state: str = "under_review", verified: bool = True,
                      verdict: str = "eligible", repo: str = "alice/flask-thing", pypi: str | None = "flask-thing",
                      login: str | None = "alice", repo_id: int | None = None, requester: int = REQUESTER) -> int:
    owner, name = repo.split("/")
    async with db() as s:
        req = TransferRequest(
            guild_id=1, requester_id=requester, repo_owner=owner, repo_name=name, repo_key=repo.lower(),
            state=state, pypi_project=pypi, github_username=login, github_repo_id=repo_id,
            verdict=verdict, submitted_at=clock.now(), created_at=clock.now(),
            verified_at=clock.now() if verified else None,
            verification_method="oauth" if verified else None,
            verified_github_login=login if verified else None,
        )
        s.add(req)
        await s.commit()
        return req.id


async def state_of(db, request_id: int) -> str:
    async with db() as s:
        return (await s.get(TransferRequest, request_id, populate_existing=True)).state


async def events(db, request_id: int, action: str) -> int:
    async with db() as s:
        return await s.scalar(
            select(func.count()).where(TransferEvent.request_id == request_id, TransferEvent.action == action)
        )


def service(db, clock, **kw) -> ReviewService:
    return ReviewService(db, clock, make_settings(**kw))


# ----------------------------------------------------------------------- approving


async def test_one_maintainer_approval_approves_and_starts_the_checklist(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock)
    outcome = await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    assert outcome.decision == "approved" and outcome.decided_by == MAINT_A
    assert await state_of(db, rid) == "approved"
    async with db() as s:
        keys = set(await s.scalars(select(ChecklistItem.key).where(ChecklistItem.request_id == rid)))
        tracking = await s.get(ReviewTracking, rid)
        req = await s.get(TransferRequest, rid)
    assert keys == {"org_member", "repo_transferred", "pypi_owner", "publish_workflow", "readme_notice",
                    "release", "readthedocs", "test_pypi"}
    assert tracking.approved_at == clock.now() and tracking.invitation_state == "pending"
    assert req.decided_by == MAINT_A and req.decided_at == clock.now()
    assert await events(db, rid, "review.approved") == 1


async def test_without_pypi_project_the_pypi_steps_are_left_out(db, clock):
    rid = await add_request(db, clock, pypi=None)
    await service(db, clock).record_vote(rid, MAINT_A, APPROVE, True, True)
    async with db() as s:
        keys = set(await s.scalars(select(ChecklistItem.key).where(ChecklistItem.request_id == rid)))
    assert keys == {"org_member", "repo_transferred", "publish_workflow", "readme_notice", "readthedocs"}


async def test_two_required_approvals_need_two_different_maintainers(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock, review={"approvals_required": 2})
    first = await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    again = await svc.record_vote(rid, MAINT_A, APPROVE, True, True)  # a replayed event
    assert first.decision is None and first.status == "recorded" and len(first.tally.approvals) == 1
    assert again.status == "unchanged" and again.decision is None
    assert await state_of(db, rid) == "under_review"
    second = await svc.record_vote(rid, MAINT_B, APPROVE, True, True)
    assert second.decision == "approved" and second.decided_by == MAINT_B
    assert await state_of(db, rid) == "approved"


async def test_removing_a_reaction_before_the_decision_removes_the_vote(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock, review={"approvals_required": 2})
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    removed = await svc.record_vote(rid, MAINT_A, APPROVE, True, False)
    assert removed.status == "removed" and removed.tally.approvals == ()
    outcome = await svc.record_vote(rid, MAINT_B, APPROVE, True, True)
    assert outcome.decision is None and await state_of(db, rid) == "under_review"


async def test_looking_reaction_is_shown_but_decides_nothing(db, clock):
    rid = await add_request(db, clock)
    outcome = await service(db, clock).record_vote(rid, MAINT_A, LOOKING, True, True)
    assert outcome.tally.looking == (MAINT_A,) and outcome.decision is None
    assert await state_of(db, rid) == "under_review"


# ----------------------------------------------------------------------- who does not count


@pytest.mark.parametrize(
    ("user", "emoji", "is_maintainer", "is_bot", "reason"),
    [
        (REQUESTER, APPROVE, True, False, "the requester can't vote on their own request"),
        (STRANGER, APPROVE, False, False, "not a maintainer"),
        (BOT, APPROVE, False, True, "bot reaction"),
        (MAINT_A, "\U0001f44d", True, False, "not a voting reaction"),
        (MAINT_A, "party:12345", True, False, "not a voting reaction"),
    ],
)
async def test_votes_that_never_count(db, clock, user, emoji, is_maintainer, is_bot, reason):
    rid = await add_request(db, clock)
    outcome = await service(db, clock).record_vote(rid, user, emoji, is_maintainer, True, is_bot=is_bot)
    assert outcome.status == "ignored" and outcome.reason == reason
    assert await state_of(db, rid) == "under_review"
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(ReviewVote)) == 0


async def test_a_maintainer_rejection_from_the_requester_is_ignored_too(db, clock):
    rid = await add_request(db, clock, requester=MAINT_A)
    outcome = await service(db, clock).record_vote(rid, MAINT_A, REJECT, True, True)
    assert outcome.status == "ignored" and await state_of(db, rid) == "under_review"


# ----------------------------------------------------------------------- rejecting


async def test_a_rejection_decides_and_the_reason_is_stored_once(db, clock):
    rid = await add_request(db, clock, state="under_review")
    svc = service(db, clock, review={"approvals_required": 2})
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    outcome = await svc.record_vote(rid, MAINT_B, REJECT, True, True)
    assert outcome.decision == "rejected" and outcome.decided_by == MAINT_B
    assert await state_of(db, rid) == "rejected"
    with pytest.raises(NotAllowed):
        await svc.set_rejection_reason(rid, STRANGER, False, "nope")
    assert await svc.set_rejection_reason(rid, MAINT_B, True, "Not a Flask extension: no Pallets dependency.")
    assert not await svc.set_rejection_reason(rid, MAINT_A, True, "second reason")
    async with db() as s:
        assert (await s.get(TransferRequest, rid)).decision_reason.startswith("Not a Flask extension")
    late = await svc.record_vote(rid, MAINT_C, APPROVE, True, True)
    assert late.status == "ignored" and late.decision is None
    assert await events(db, rid, "review.rejected") == 1


async def test_late_reactions_after_approval_change_nothing(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock)
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    for user, emoji, added in [(MAINT_B, REJECT, True), (MAINT_A, APPROVE, False), (MAINT_B, APPROVE, True)]:
        outcome = await svc.record_vote(rid, user, emoji, True, added)
        assert outcome.status == "ignored" and outcome.decision is None
    assert await state_of(db, rid) == "approved"


# ----------------------------------------------------------------------- races and replays


async def test_fifty_concurrent_approvals_decide_once(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock, review={"approvals_required": 2})
    maintainers = [1000 + i for i in range(25)]
    # 25 maintainers, each event delivered twice (a RESUME replay), all at the same moment.
    results = await asyncio.gather(
        *(svc.record_vote(rid, m, APPROVE, True, True) for m in maintainers for _ in range(2))
    )
    assert sum(1 for r in results if r.decision == "approved") == 1
    assert await state_of(db, rid) == "approved"
    assert await events(db, rid, "review.approved") == 1


# ----------------------------------------------------------------------- confirmation


@pytest.mark.parametrize(("verified", "verdict"), [(False, "eligible"), (True, "not_accepted")])
async def test_unverified_or_not_accepted_needs_a_confirm_button(db, clock, verified, verdict):
    rid = await add_request(db, clock, verified=verified, verdict=verdict)
    svc = service(db, clock)
    with pytest.raises(Conflict):
        await svc.confirm_approval(rid, MAINT_A, True)  # no approval yet
    outcome = await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    assert outcome.awaiting_confirmation and outcome.decision is None
    assert await state_of(db, rid) == "under_review"
    with pytest.raises(NotAllowed):
        await svc.confirm_approval(rid, STRANGER, False)
    confirmed = await svc.confirm_approval(rid, MAINT_B, True)
    assert confirmed.decision == "approved" and confirmed.decided_by == MAINT_B
    again = await svc.confirm_approval(rid, MAINT_A, True)
    assert again.decision is None
    assert await events(db, rid, "review.approved_confirmed") == 1


async def test_approvals_given_before_verification_decide_once_verified(db, clock):
    rid = await add_request(db, clock, verified=False)
    svc = service(db, clock)
    assert (await svc.record_vote(rid, MAINT_A, APPROVE, True, True)).awaiting_confirmation
    assert (await svc.reconsider(rid)).decision is None  # still unverified: the button stays
    async with db() as s:
        row = await s.get(TransferRequest, rid)
        row.verified_at, row.verified_github_login = clock.now(), "alice"  # the device flow proved the login
        await s.commit()
    outcome = await svc.reconsider(rid)
    assert outcome.decision == "approved" and outcome.decided_by == MAINT_A
    assert (await svc.reconsider(rid)).decision is None
    assert await events(db, rid, "review.approved") == 1


async def test_reconsidering_without_enough_approvals_decides_nothing(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock, review={"approvals_required": 2})
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    assert (await svc.reconsider(rid)).decision is None and await state_of(db, rid) == "under_review"


# ----------------------------------------------------------------------- catch-up


async def test_catch_up_applies_reactions_made_while_offline(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock, review={"approvals_required": 2})
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    # While offline: A took the ✅ back, a stranger and the requester reacted, B and C approved.
    reactions = {APPROVE: {MAINT_B, MAINT_C, STRANGER, REQUESTER}, LOOKING: {MAINT_A}}
    outcome = await svc.sync_votes(rid, reactions, {MAINT_A, MAINT_B, MAINT_C, REQUESTER})
    assert outcome.decision == "approved"
    assert set(outcome.tally.approvals) == {MAINT_B, MAINT_C} and outcome.tally.looking == (MAINT_A,)
    replay = await svc.sync_votes(rid, reactions, {MAINT_A, MAINT_B, MAINT_C})
    assert replay.status == "ignored" and replay.decision is None


async def test_catch_up_removes_votes_taken_back_offline(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock, review={"approvals_required": 2})
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    outcome = await svc.sync_votes(rid, {APPROVE: {MAINT_B}}, {MAINT_A, MAINT_B})
    assert outcome.decision is None and outcome.tally.approvals == (MAINT_B,)


async def test_catch_up_keeps_votes_made_on_a_card_that_was_deleted_since(db, clock):
    rid = await add_request(db, clock, state="submitted")
    svc = service(db, clock, review={"approvals_required": 2})
    await svc.card_posted(rid, channel_id=3, message_id=10, thread_id=None)
    clock.advance(minutes=1)
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    clock.advance(minutes=1)
    await svc.card_posted(rid, channel_id=3, message_id=11, thread_id=None)  # the first card was deleted
    clock.advance(minutes=1)
    await svc.record_vote(rid, MAINT_B, LOOKING, True, True)
    # The new card shows neither vote: A's was made on the old card, B took the 👀 back while we were away.
    outcome = await svc.sync_votes(rid, {}, {MAINT_A, MAINT_B})
    assert outcome.tally.approvals == (MAINT_A,) and outcome.tally.looking == ()
    assert await events(db, rid, "review.card_reposted") == 1
    outcome = await svc.sync_votes(rid, {APPROVE: {MAINT_C}}, {MAINT_A, MAINT_C})
    assert outcome.decision == "approved" and set(outcome.tally.approvals) == {MAINT_A, MAINT_C}


# ----------------------------------------------------------------------- invitation


async def test_without_admin_token_the_card_says_whom_to_invite(db, clock):
    rid = await add_request(db, clock)
    svc = service(db, clock)
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    result = await svc.ensure_invitation(rid)
    assert result.state == "manual" and "alice" in result.message and "pallets-eco" in result.message
    assert (await svc.ensure_invitation(rid)).state == "skipped"


async def test_invitation_is_sent_once_even_when_asked_concurrently(db, clock, fake_github, http):
    rid = await add_request(db, clock)
    settings = make_settings(github_url=fake_github.root_url, admin_token=ADMIN_TOKEN)
    svc = ReviewService(db, clock, settings, github_client(http, fake_github))
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    results = await asyncio.gather(*(svc.ensure_invitation(rid) for _ in range(10)))
    assert [r.state for r in results].count("sent") == 1
    assert fake_github.invitations == [("pallets-eco", "alice", "member", "org-admin")]
    assert fake_github.count("PUT", "/memberships/alice") == 1


async def test_already_a_member_is_said_and_not_invited(db, clock, fake_github, http):
    fake_github.add_member("pallets-eco", "alice")
    rid = await add_request(db, clock)
    settings = make_settings(github_url=fake_github.root_url, admin_token=ADMIN_TOKEN)
    svc = ReviewService(db, clock, settings, github_client(http, fake_github))
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    result = await svc.ensure_invitation(rid)
    assert result.state == "member" and "already a member" in result.message
    assert fake_github.count("PUT") == 0


async def test_a_failed_invitation_is_reported_once_and_retried(db, clock, fake_github, http):
    rid = await add_request(db, clock)
    settings = make_settings(github_url=fake_github.root_url, admin_token=ADMIN_TOKEN)
    svc = ReviewService(db, clock, settings, github_client(http, fake_github))
    await svc.record_vote(rid, MAINT_A, APPROVE, True, True)
    fake_github.fail("PUT", "/memberships/", 502, times=4)
    first = await svc.ensure_invitation(rid)
    assert first.state == "failed" and first.report
    assert await svc.pending_invitations() == [rid]
    second = await svc.ensure_invitation(rid)
    assert second.state == "failed" and not second.report  # don't repeat the same alarm every loop
    third = await svc.ensure_invitation(rid)
    assert third.state == "sent" and third.report
    assert len(fake_github.invitations) == 1 and await svc.pending_invitations() == []


# ----------------------------------------------------------------------- queue


async def test_queue_lists_open_requests_with_age_and_what_they_wait_for(db, clock):
    svc = service(db, clock, review={"approvals_required": 2})
    old = await add_request(db, clock, repo="alice/flask-old", verified=False)
    clock.advance(days=3)
    new = await add_request(db, clock, repo="bob/flask-new", state="submitted")
    approved = await add_request(db, clock, repo="carol/flask-done")
    await add_request(db, clock, repo="dave/flask-no", state="rejected")
    await svc.record_vote(old, MAINT_A, APPROVE, True, True)
    await svc.record_vote(approved, MAINT_A, APPROVE, True, True)
    await svc.record_vote(approved, MAINT_B, APPROVE, True, True)
    clock.advance(hours=5)
    entries = await svc.queue()
    assert [(e.request_id, e.state) for e in entries] == [
        (new, "submitted"), (old, "under_review"), (approved, "approved")
    ]
    by_id = {e.request_id: e for e in entries}
    assert by_id[old].age == timedelta(days=3, hours=5)
    assert "1/2 approvals" in by_id[old].waiting_for and "not verified" in by_id[old].waiting_for
    assert by_id[new].waiting_for == "the review card to be posted"
    assert by_id[approved].waiting_for.startswith("checklist: requester joins org, GitHub transfer")
