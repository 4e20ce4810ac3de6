"""Ownership verification service against the loopback fake GitHub and PyPI and a real SQLite file."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Settings, parse_settings
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.db.models.verification import Verification
from bot.errors import Conflict, InvalidInput, NotFoundError, ServiceUnavailable
from bot.github import GitHubClient
from bot.logging_setup import SecretFilter
from bot.pypi import PyPIClient
from bot.services.verification import VerificationService
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI

ALICE, BOB = 111, 222  # Discord ids
MAINTAINER = 999


@dataclass
class World:
    github: FakeGitHub
    pypi: FakePyPI
    clock: FakeClock
    db: object
    settings: Settings
    service: VerificationService
    http: aiohttp.ClientSession
    db_path: Path
    tokens: list[str]
    secret_filter: SecretFilter

    def new_service(self, **setting_overrides) -> VerificationService:
        settings = self.settings
        if setting_overrides:
            settings = make_settings(self.github, self.pypi, **setting_overrides)
        return VerificationService(
            self.db,
            GitHubClient(self.http, api_url=self.github.api_url, web_url=self.github.web_url,
                         token=self.github.bot_token, retries=0),
            self.clock,
            settings,
            pypi=PyPIClient(self.http, url=self.pypi.url, retries=0),
            secret_filter=self.secret_filter,
        )

    async def add_request(self, repo: str = "alice/flask-foo", requester: int = ALICE, **values) -> int:
        owner, name = repo.split("/")
        async with self.db() as session:
            req = TransferRequest(
                guild_id=1, requester_id=requester, state=values.pop("state", "submitted"),
                repo_owner=owner, repo_name=name, repo_key=repo.lower(), **values,
            )
            session.add(req)
            await session.commit()
            return req.id

    async def request(self, request_id: int) -> TransferRequest:
        async with self.db() as session:
            return await session.get(TransferRequest, request_id)

    async def events(self, request_id: int) -> list[TransferEvent]:
        async with self.db() as session:
            return list(await session.scalars(select(TransferEvent).where(TransferEvent.request_id == request_id)))

    def stored_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.db_path.parent.glob(self.db_path.name + "*"))


def make_settings(github: FakeGitHub, pypi: FakePyPI, *, client_id=True, client_secret=True) -> Settings:
    raw = {
        "discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]},
        # The per-user sign-in cooldown is tested end to end (tests/resilience/test_abuse.py).
        "github": {"api_url": github.api_url, "web_url": github.web_url, "sign_in_cooldown_seconds": 0},
        "pypi": {"url": pypi.url},
    }
    if client_id:
        raw["github"]["oauth_client_id"] = github.client_id
    env = {"DISCORD_TOKEN": "x" * 20}
    if client_secret:
        env["GITHUB_OAUTH_CLIENT_SECRET"] = github.client_secret
    return parse_settings(raw, env)


@pytest.fixture
async def world(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    github, pypi = FakeGitHub(), FakePyPI()
    await github.start()
    await pypi.start()
    tokens: list[str] = []
    issue = github.issue_token

    def recording_issue(login: str) -> str:
        token = issue(login)
        tokens.append(token)
        return token

    github.issue_token = recording_issue  # type: ignore[method-assign]
    github.add_repo("alice/flask-foo")
    db_path = tmp_path / "v.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    await migrate.upgrade(engine)
    http = aiohttp.ClientSession()
    w = World(github, pypi, FakeClock(), create_session_factory(engine), make_settings(github, pypi), None,  # type: ignore[arg-type]
              http, db_path, tokens, SecretFilter())
    w.service = w.new_service()
    yield w
    await http.close()
    await engine.dispose()
    await github.close()
    await pypi.close()


async def approve_and_poll(w: World, start, login: str):
    w.github.approve_device(start.user_code, login)
    w.clock.advance(seconds=start.interval)
    return await w.service.poll_once(start.verification_id)


# ----------------------------------------------------------------------------- device flow


async def test_owner_of_personal_repo_is_verified_and_token_is_revoked_and_never_stored(world, caplog):
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}", start.user_code)
    assert start.verification_uri == f"{world.github.web_url}/login/device"

    outcome = await approve_and_poll(world, start, "alice")

    assert outcome.verified and outcome.code == "github-owner"
    assert "alice" in outcome.message and "discarded" in outcome.message
    req = await world.request(rid)
    assert req.verified_at == world.clock.now()
    assert (req.verification_method, req.verified_github_login) == ("github-owner", "alice")
    assert [e.action for e in await world.events(rid)] == ["verified"]
    assert world.github.revocations == ["alice"]
    assert world.tokens and world.github.tokens.get(world.tokens[0]) is None  # revoked at GitHub
    stored = world.stored_bytes()
    for token in world.tokens:
        assert token.encode() not in stored
        assert token not in caplog.text
    async with world.db() as session:
        row = await session.get(Verification, start.verification_id)
    assert row.device_code is None  # only kept while pending


async def test_admin_of_an_org_repository_is_verified_and_plain_member_is_not(world):
    world.github.add_org("acme", members=["carol"], admins=["bob"])
    world.github.add_repo("acme/flask-bar", owner_type="Organization")
    rid = await world.add_request("acme/flask-bar")
    start = await world.service.start_device(rid, ALICE)
    outcome = await approve_and_poll(world, start, "bob")
    assert outcome.verified and outcome.code == "github-org-admin"
    req = await world.request(rid)
    assert req.verification_method == "github-org-admin" and req.verified_github_login == "bob"

    world.github.add_repo("acme/flask-baz", owner_type="Organization")
    rid2 = await world.add_request("acme/flask-baz")
    start2 = await world.service.start_device(rid2, ALICE)
    outcome2 = await approve_and_poll(world, start2, "carol")
    assert outcome2.state == "failed" and outcome2.code == "not_owner"
    assert "**acme** organisation" in outcome2.message
    assert (await world.request(rid2)).verified_at is None


async def test_not_the_owner_gets_a_kind_answer_and_the_request_stays_unverified(world):
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    outcome = await approve_and_poll(world, start, "mallory")
    assert outcome.state == "failed" and outcome.github_login == "mallory"
    assert "**alice**" in outcome.message and "Only its owner can transfer it" in outcome.message
    assert "fork it, work on it, then ask to join" in outcome.message
    assert "https://palletsprojects.com/ecosystem" in outcome.message
    req = await world.request(rid)
    assert req.verified_at is None
    assert req.verification_note.startswith("Not verified: GitHub user mallory")
    assert world.github.revocations == ["mallory"]


async def test_polls_wait_for_the_interval_and_slow_down_adds_five_seconds(world):
    world.github.device_flow_script(["authorization_pending", "slow_down", ("token", "alice")])
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    polls = lambda: world.github.count("POST", "access_token")  # noqa: E731

    assert await world.service.poll_due() == [] and polls() == 0  # not due yet
    world.clock.advance(seconds=5)
    assert await world.service.poll_due() == [] and polls() == 1  # authorization_pending
    world.clock.advance(seconds=4)
    await world.service.poll_once(start.verification_id)
    assert polls() == 1  # still inside the interval: no request sent
    world.clock.advance(seconds=1)
    await world.service.poll_due()
    assert polls() == 2  # slow_down: interval is now 10 s
    async with world.db() as session:
        row = await session.get(Verification, start.verification_id)
    assert row.interval == 10 and row.next_poll_at == world.clock.now() + timedelta(seconds=10)
    world.clock.advance(seconds=9)
    assert await world.service.poll_due() == [] and polls() == 2
    world.clock.advance(seconds=1)
    [done] = await world.service.poll_due()
    assert done.verified and polls() == 3


@pytest.mark.parametrize(
    ("answer", "state", "phrase"),
    [
        ("expired_token", "expired", "expired before it was approved"),
        ("access_denied", "failed", "cancelled on GitHub"),
        ("incorrect_device_code", "failed", "did not recognise"),
        ("device_flow_disabled", "failed", "disabled for this bot's GitHub app"),
    ],
)
async def test_each_device_flow_error_ends_the_attempt_with_a_clear_message(world, answer, state, phrase):
    world.github.device_flow_script([answer])
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    world.clock.advance(seconds=start.interval)
    [outcome] = await world.service.poll_due()
    assert (outcome.state, outcome.code) == (state, answer)
    assert phrase in outcome.message
    if answer != "device_flow_disabled":  # that one points to the topic method instead of a retry
        assert "Nothing was marked verified" in outcome.message
    assert (await world.request(rid)).verified_at is None
    world.clock.advance(seconds=60)
    assert await world.service.poll_due() == []  # finished: never polled again


async def test_code_expiring_locally_ends_without_asking_github(world):
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    world.clock.advance(seconds=901)
    [outcome] = await world.service.poll_due()
    assert outcome.verification_id == start.verification_id and outcome.state == "expired"
    assert world.github.count("POST", "access_token") == 0


async def test_github_outage_and_rate_limit_keep_the_attempt_pending_and_are_honoured(world):
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    world.github.fail("POST", "access_token", 503)
    world.clock.advance(seconds=5)
    assert await world.service.poll_due() == []
    world.github.fail("POST", "access_token", 429, headers={"Retry-After": "120"})
    world.clock.advance(seconds=5)
    assert await world.service.poll_due() == []
    world.clock.advance(seconds=60)
    assert await world.service.poll_due() == []
    assert world.github.count("POST", "access_token") == 2  # waited for retry-after, not the interval
    world.github.approve_device(start.user_code, "alice")
    world.clock.advance(seconds=60)
    [outcome] = await world.service.poll_due()
    assert outcome.verified


async def test_code_expiring_during_an_outage_says_github_was_unreachable(world):
    rid = await world.add_request()
    await world.service.start_device(rid, ALICE)
    world.github.down = True
    for _ in range(3):
        world.clock.advance(seconds=5)
        assert await world.service.poll_due() == []
    world.clock.advance(seconds=900)
    [outcome] = await world.service.poll_due()
    assert outcome.state == "expired" and "GitHub could not be reached" in outcome.message
    assert (await world.request(rid)).verified_at is None


async def test_github_error_after_sign_in_marks_nothing_verified_and_still_revokes(world):
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    world.github.fail("GET", r"^/api/repos/", 500)
    outcome = await approve_and_poll(world, start, "alice")
    assert outcome.state == "failed" and outcome.code == "github_error"
    assert "Nothing was marked verified" in outcome.message
    assert (await world.request(rid)).verified_at is None
    assert world.github.revocations == ["alice"]


async def test_without_client_secret_the_token_is_dropped_not_revoked(world):
    service = world.new_service(client_secret=False)
    rid = await world.add_request()
    start = await service.start_device(rid, ALICE)
    world.github.approve_device(start.user_code, "alice")
    world.clock.advance(seconds=5)
    assert (await service.poll_once(start.verification_id)).verified
    assert world.github.revocations == [] and world.github.count("DELETE") == 0
    assert world.tokens[0].encode() not in world.stored_bytes()


async def test_device_flow_needs_a_client_id_and_only_the_requester_may_start_it(world):
    rid = await world.add_request()
    with pytest.raises(Conflict, match="isn't set up"):
        await world.new_service(client_id=False).start_device(rid, ALICE)
    with pytest.raises(NotFoundError):
        await world.service.start_device(rid, BOB)
    world.github.device_flow_enabled = False
    with pytest.raises(ServiceUnavailable, match="refused to start"):
        await world.service.start_device(rid, ALICE)


async def test_proof_for_one_repository_never_verifies_another(world):
    world.github.add_repo("alice/flask-other")
    rid = await world.add_request()
    start = await world.service.start_device(rid, ALICE)
    async with world.db() as session:  # the request now names another repository
        req = await session.get(TransferRequest, rid)
        req.repo_owner, req.repo_name, req.repo_key = "alice", "flask-other", "alice/flask-other"
        await session.commit()
    outcome = await approve_and_poll(world, start, "alice")
    assert outcome.code == "request_changed" and not outcome.verified
    assert (await world.request(rid)).verified_at is None


async def test_restart_resumes_pending_flows_and_expires_stale_ones(world):
    fresh_rid = await world.add_request()
    world.github.add_repo("alice/flask-old")
    stale_rid = await world.add_request("alice/flask-old")
    stale = await world.service.start_device(stale_rid, ALICE)
    world.clock.advance(seconds=600)
    fresh = await world.service.start_device(fresh_rid, ALICE)
    world.clock.advance(seconds=400)  # the stale code ran out while "the bot was down"

    restarted = world.new_service()
    told = await restarted.resume_pending()
    assert [(o.verification_id, o.state) for o in told] == [(stale.verification_id, "expired")]
    await restarted.mark_notified(stale.verification_id)
    assert await restarted.unnotified() == []

    world.github.approve_device(fresh.user_code, "alice")
    [outcome] = await restarted.poll_due()
    assert outcome.verification_id == fresh.verification_id and outcome.verified
    assert [o.verification_id for o in await restarted.unnotified()] == [fresh.verification_id]


# ----------------------------------------------------------------------------- topic proof


async def test_topic_proof_verifies_and_says_the_topic_may_be_removed(world):
    rid = await world.add_request()
    challenge = await world.service.start_topic(rid, ALICE)
    assert re.fullmatch(r"pallets-eco-verify-[a-z0-9]{6}", challenge.nonce)
    assert (await world.service.start_topic(rid, ALICE)).nonce == challenge.nonce  # same code until it expires
    world.github.set_topics("alice/flask-foo", ["flask", challenge.nonce])
    outcome = await world.service.check_topic(rid, ALICE)
    assert outcome.verified and "remove the topic" in outcome.message
    req = await world.request(rid)
    assert req.verification_method == "repo-topic" and req.verified_github_login is None
    assert "maintain or admin rights" in req.verification_note


async def test_wrong_topic_leaves_the_request_pending(world):
    rid = await world.add_request()
    challenge = await world.service.start_topic(rid, ALICE)
    world.github.set_topics("alice/flask-foo", ["flask", "pallets-eco-verify-zzzzzz"])
    outcome = await world.service.check_topic(rid, ALICE)
    assert outcome.state == "pending" and outcome.code == "topic_missing"
    assert challenge.nonce in outcome.message and "`pallets-eco-verify-zzzzzz`" in outcome.message
    assert (await world.request(rid)).verified_at is None


async def test_expired_nonce_fails_clearly_even_if_the_topic_is_there(world):
    rid = await world.add_request()
    challenge = await world.service.start_topic(rid, ALICE)
    world.github.set_topics("alice/flask-foo", [challenge.nonce])
    world.clock.advance(hours=24, seconds=1)
    outcome = await world.service.check_topic(rid, ALICE)
    assert outcome.state == "expired" and "valid for 24 hours" in outcome.message
    assert (await world.request(rid)).verified_at is None
    assert (await world.service.start_topic(rid, ALICE)).nonce != challenge.nonce


async def test_a_nonce_is_bound_to_its_user_and_repository(world):
    world.github.add_repo("bob/flask-bob")
    rid = await world.add_request()
    bob_rid = await world.add_request("bob/flask-bob", requester=BOB)
    alice_code = await world.service.start_topic(rid, ALICE)
    with pytest.raises(NotFoundError):
        await world.service.check_topic(rid, BOB)  # not Bob's request
    await world.service.start_topic(bob_rid, BOB)
    world.github.set_topics("bob/flask-bob", [alice_code.nonce])  # Alice's code on Bob's repository
    outcome = await world.service.check_topic(bob_rid, BOB)
    assert not outcome.verified
    assert (await world.request(bob_rid)).verified_at is None


async def test_topic_check_when_github_is_down_changes_nothing(world):
    rid = await world.add_request()
    await world.service.start_topic(rid, ALICE)
    world.github.down = True
    with pytest.raises(ServiceUnavailable):
        await world.service.check_topic(rid, ALICE)
    world.github.down = False
    world.github.fail("GET", r"^/api/repos/", 403, headers={"Retry-After": "30", "X-RateLimit-Remaining": "0"})
    with pytest.raises(ServiceUnavailable, match="rate limiting"):
        await world.service.check_topic(rid, ALICE)
    assert (await world.request(rid)).verified_at is None


# ----------------------------------------------------------------------------- manual and PyPI


async def test_manual_verification_is_audited_with_maintainer_and_reason(world):
    rid = await world.add_request()
    with pytest.raises(InvalidInput):
        await world.service.verify_manually(rid, MAINTAINER, "   ")
    outcome = await world.service.verify_manually(rid, MAINTAINER, "Known author, confirmed on a call")
    assert outcome.verified
    req = await world.request(rid)
    assert req.verification_method == "manual" and "Known author" in req.verification_note
    [event] = await world.events(rid)
    assert (event.action, event.actor_id, event.reason) == (
        "verified_manually", MAINTAINER, "Known author, confirmed on a call"
    )
    with pytest.raises(Conflict, match="already verified"):
        await world.service.verify_manually(rid, MAINTAINER, "again")


@pytest.mark.parametrize(
    ("roles", "role", "warning", "phrase"),
    [
        ((("Owner", "alice-pypi"),), "Owner", False, "is an Owner"),
        ((("Owner", "zed"), ("Maintainer", "alice-pypi")), "Maintainer", True, "only a Maintainer"),
        ((("Owner", "zed"),), None, True, "has no role"),
    ],
)
async def test_pypi_role_of_the_claimed_username(world, roles, role, warning, phrase):
    world.pypi.add_project("Flask-Foo", roles=roles,
                           project_urls={"Source": "https://github.com/Alice/flask-foo/"})
    rid = await world.add_request(pypi_project="Flask-Foo", pypi_username="Alice-PyPI")
    check = await world.service.pypi_check(rid)
    assert (check.role, check.warning, check.links_repo) == (role, warning, True)
    assert phrase in check.message and "self-declared" in check.message
    if role == "Maintainer":
        assert "**davidism** as Owner" in check.message


async def test_pypi_project_that_does_not_link_to_the_repository_is_flagged(world):
    world.pypi.add_project("flask-foo", roles=(("Owner", "alice"),),
                           project_urls={"Source": "https://github.com/someone/flask-foo-fork"})
    rid = await world.add_request(pypi_project="flask-foo", pypi_username="alice")
    check = await world.service.pypi_check(rid)
    assert check.role == "Owner" and check.links_repo is False and check.warning
    assert "does not link to `alice/flask-foo`" in check.message
