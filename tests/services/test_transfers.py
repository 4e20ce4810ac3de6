"""Transfer intake service: drafts, terms, submission races, eligibility runs, retries, withdrawal."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import event, select

from bot.clock import FakeClock
from bot.config import DiscordSettings, GitHubSettings, PyPISettings, Settings
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from bot.github import GitHubClient
from bot.pypi import PyPIClient
from bot.services.eligibility import EligibilityService
from bot.services.transfers import TERMS, TransferForm, TransferService
from tests.dburl import database_url
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI
from tests.services.test_eligibility import build_world

ALICE, BOB = 111, 222
GUILD = 9


@pytest.fixture
async def env(tmp_path):
    engine = create_engine(database_url(tmp_path, "t"))
    await migrate.upgrade(engine)
    db = create_session_factory(engine)
    async with FakeGitHub() as gh, FakePyPI() as pypi, aiohttp.ClientSession() as http:
        build_world(gh, pypi)
        settings = Settings(
            discord=DiscordSettings(guild_id=GUILD, eco_channel_id=2, review_channel_id=3, maintainer_role_ids=(4,)),
            github=GitHubSettings(api_url=gh.api_url, web_url=gh.web_url),
            pypi=PyPISettings(url=pypi.url),
        )
        github = GitHubClient(http, api_url=gh.api_url, web_url=gh.web_url, token=gh.bot_token, timeout=1, retries=0)
        py = PyPIClient(http, url=pypi.url, timeout=1, retries=0)
        clock = FakeClock()
        service = TransferService(db, EligibilityService(github, py, settings), clock, settings)
        yield service, gh, pypi, clock, db
    await engine.dispose()


def form(repo="https://github.com/alice/flask-foo", **kw) -> TransferForm:
    values = {
        "pypi_project": "Flask-Foo",
        "github_username": "alice",
        "pypi_username": "alice",
        "reason": "I no longer have time; 2k downloads a day.",
    }
    values.update(kw)
    return TransferForm(repository=repo, **values)


async def events(db, request_id):
    async with db() as session:
        rows = await session.scalars(
            select(TransferEvent).where(TransferEvent.request_id == request_id).order_by(TransferEvent.id)
        )
        return [(e.action, e.from_state, e.to_state, e.actor_id) for e in rows]


async def submitted(service, user=ALICE, **kw):
    draft = await service.save_form(user, GUILD, form(**kw))
    await service.accept_terms(draft.id, user)
    return (await service.submit(draft.id, user)).request


async def test_terms_cover_what_the_owner_gives_up():
    text = " ".join(TERMS).lower()
    for words in ("final say", "pypi", "not an official", "join"):
        assert words in text


async def test_draft_is_resumed_not_duplicated(env):
    service, *_ = env
    assert await service.get_draft(ALICE) is None
    first = await service.save_form(ALICE, GUILD, form())
    assert (first.state, first.repo_full_name, first.pypi_project) == ("draft", "alice/flask-foo", "Flask-Foo")
    again = await service.save_form(ALICE, GUILD, form("alice/cronlike", pypi_project=""))
    assert again.id == first.id and again.repo_full_name == "alice/cronlike" and again.pypi_project is None
    assert (await service.get_draft(ALICE)).id == first.id
    assert first.next_step.startswith("Press **Continue**")


async def test_free_text_is_stored_exactly_as_typed(env):
    service, *_ = env
    reason = "@everyone <@&123> **bold** `code` ||spoiler|| " + "é" * 3900
    info = await service.save_form(ALICE, GUILD, form(reason=reason))
    assert (await service.get(info.id)).reason == reason
    with pytest.raises(InvalidInput, match="too long"):
        await service.save_form(ALICE, GUILD, form(reason="x" * 4001))
    with pytest.raises(InvalidInput, match="why"):
        await service.save_form(ALICE, GUILD, form(reason="   "))


async def test_bad_inputs_are_refused_before_anything_is_stored(env):
    service, _, _, _, db = env
    for bad in (form("https://gitlab.com/a/b"), form(github_username="not valid"), form(pypi_project="-x-")):
        with pytest.raises(InvalidInput):
            await service.save_form(ALICE, GUILD, bad)
    async with db() as session:
        assert (await session.scalars(select(TransferRequest))).all() == []


async def test_submit_needs_terms_and_records_times_and_audit(env):
    service, _, _, clock, db = env
    draft = await service.save_form(ALICE, GUILD, form())
    with pytest.raises(Conflict, match="Accept the terms"):
        await service.submit(draft.id, ALICE)
    clock.advance(minutes=3)
    accepted = await service.accept_terms(draft.id, ALICE)
    assert accepted.terms_accepted_at == clock.now()
    clock.advance(minutes=1)
    assert (await service.accept_terms(draft.id, ALICE)).terms_accepted_at == accepted.terms_accepted_at
    result = await service.submit(draft.id, ALICE)
    assert result.changed and result.request.state == "submitted" and result.request.submitted_at == clock.now()
    again = await service.submit(draft.id, ALICE)  # a double click
    assert not again.changed and again.request.state == "submitted"
    assert await events(db, draft.id) == [
        ("draft_created", None, None, ALICE),
        ("terms_accepted", None, None, ALICE),
        ("submit", "draft", "submitted", ALICE),
    ]


async def test_concurrent_double_submit_changes_once(env):
    service, _, _, _, db = env
    draft = await service.save_form(ALICE, GUILD, form())
    await service.accept_terms(draft.id, ALICE)
    results = await asyncio.gather(*(service.submit(draft.id, ALICE) for _ in range(5)))
    assert sum(r.changed for r in results) == 1
    assert [e for e in await events(db, draft.id) if e[0] == "submit"] == [("submit", "draft", "submitted", ALICE)]


async def test_two_users_racing_for_one_repository(env):
    service, _, _, _, db = env

    async def attempt(user, spelling):
        try:
            return await submitted(service, user, repo=spelling, github_username="alice")
        except Conflict as exc:
            return exc

    results = await asyncio.gather(
        attempt(ALICE, "alice/flask-foo"), attempt(BOB, "https://github.com/Alice/Flask-Foo")
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert "already exists and is" in losers[0].message
    async with db() as session:
        rows = (await session.scalars(select(TransferRequest))).all()
    assert len(rows) == 1 and rows[0].requester_id == winners[0].requester_id


async def test_second_request_for_a_repo_is_told_its_state(env):
    service, *_ = env
    await submitted(service, ALICE)
    with pytest.raises(Conflict) as info:
        await service.save_form(BOB, GUILD, form("alice/flask-foo"))
    assert info.value.message.startswith("A request for alice/flask-foo already exists and is submitted.")
    with pytest.raises(Conflict, match="You already have request"):
        await service.save_form(ALICE, GUILD, form("ALICE/flask-foo"))


async def test_only_drafts_of_the_requester_can_be_touched(env):
    service, *_ = env
    draft = await service.save_form(ALICE, GUILD, form())
    for call in (service.accept_terms(draft.id, BOB), service.submit(draft.id, BOB), service.get(draft.id, BOB)):
        with pytest.raises(NotFoundError):
            await call
    with pytest.raises(NotFoundError):
        await service.save_form(BOB, GUILD, form("alice/cronlike"), request_id=draft.id)


async def test_run_checks_stores_the_report_and_detected_project(env):
    service, _, _, _, db = env
    request = await submitted(service, pypi_project="")
    result = await service.run_checks(request.id)
    assert result.error is None and result.report.verdict == "eligible"
    info = await service.get(request.id)
    assert info.verdict == "eligible" and info.report.kind == "extension"
    assert (info.pypi_project, info.pypi_project_detected) == ("Flask-Foo", True)
    assert "Verify ownership" in info.next_step
    assert ("eligibility_checked", None, None, None) in await events(db, request.id)


async def test_outage_is_saved_and_retried_later(env):
    service, gh, _, clock, _ = env
    request = await submitted(service)
    gh.down = True
    result = await service.run_checks(request.id)
    assert result.report is None and "GitHub" in result.error
    info = await service.get(request.id)
    assert info.state == "submitted" and info.checks_pending and "retried automatically" in info.next_step
    assert await service.pending_check_ids() == []  # just tried: wait before hammering GitHub
    clock.advance(minutes=6)
    assert await service.retry_pending_checks() == []  # still down: stays pending
    gh.down = False
    clock.advance(minutes=6)
    assert await service.retry_pending_checks() == [request.id]
    info = await service.get(request.id)
    assert info.report_error is None and info.verdict == "eligible"
    clock.advance(minutes=6)
    assert await service.pending_check_ids() == []


async def test_list_and_withdraw(env):
    service, _, _, clock, db = env
    first = await submitted(service)
    clock.advance(hours=1)
    draft = await service.save_form(ALICE, GUILD, form("alice/cronlike", pypi_project=""))
    assert [r.id for r in await service.list_for_user(ALICE)] == [draft.id, first.id]
    assert await service.list_for_user(BOB) == []
    with pytest.raises(NotAllowed):
        await service.withdraw(first.id, BOB)
    with pytest.raises(NotFoundError):
        await service.withdraw(999, ALICE)
    done = await service.withdraw(first.id, ALICE, reason="changed my mind")
    assert done.changed and done.request.state == "withdrawn"
    assert not (await service.withdraw(first.id, ALICE)).changed
    assert ("withdraw", "submitted", "withdrawn", ALICE) in await events(db, first.id)
    # The repository is free again for a new request, by anyone.
    again = await service.save_form(BOB, GUILD, form("alice/flask-foo"))
    assert again.state == "draft"
    with pytest.raises(Conflict, match="withdrawn"):
        await service.submit(first.id, ALICE)


async def test_withdraw_wins_over_a_state_change_that_lands_first(env):
    """The review card moving the request to under_review between the read and the write must not
    turn the requester's confirmed withdrawal into "try again"."""
    service, _, _, _, db = env
    request = await submitted(service)
    engine = db.kw["bind"].sync_engine
    raced: list[str] = []

    def move_first(conn, cursor, statement, parameters, context, executemany):
        if not raced and statement.startswith("UPDATE transfer_requests SET state") and "withdrawn" in parameters:
            raced.append(statement)
            mark = "?" if engine.dialect.name == "sqlite" else "$1"  # the driver's own placeholder
            cursor.execute(f"UPDATE transfer_requests SET state = 'under_review' WHERE id = {mark}", (request.id,))

    event.listen(engine, "before_cursor_execute", move_first)
    try:
        done = await service.withdraw(request.id, ALICE, reason="no time after all")
    finally:
        event.remove(engine, "before_cursor_execute", move_first)
    assert raced and done.changed and done.request.state == "withdrawn"
    assert (await service.get(request.id)).state == "withdrawn"
    # The lost attempt rolled back (with the injected change, which shared its transaction); the retry won.
    assert [e for e in await events(db, request.id) if e[0] == "withdraw"] == [
        ("withdraw", "submitted", "withdrawn", ALICE)
    ]
