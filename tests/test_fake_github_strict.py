"""Self-tests of the fake GitHub where it was made as strict as GitHub (issue 14): expiring invitations
and the daily invitation limit, secondary rate limits, search answers without ETag, and 304s that are
free only when authenticated. Sources are cited next to each rule in tests/fakes/github.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.clock import FakeClock
from tests.fakes.github import FakeGitHub

ADMIN = "ghs_admin"


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeGitHub, aiohttp.ClientSession, FakeClock]]:
    fake = FakeGitHub()
    clock = FakeClock(datetime.now(UTC))
    fake.clock = clock.now
    fake.add_org("pallets-eco", admins=["org-admin"])
    fake.tokens[ADMIN] = "org-admin"
    for login in ("alice", "bob", "carol"):
        fake.add_user(login)
    async with fake, aiohttp.ClientSession() as session:
        yield fake, session, clock


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def membership(fake, session, login: str, method: str = "GET") -> tuple[int, dict]:
    url = f"{fake.api_url}/orgs/pallets-eco/memberships/{login}"
    async with session.request(method, url, headers=auth(ADMIN), json={"role": "member"}) as resp:
        return resp.status, await resp.json()


async def test_invitations_expire_after_seven_days_and_can_be_sent_again(world):
    fake, session, clock = world
    assert (await membership(fake, session, "alice", "PUT"))[1]["state"] == "pending"
    clock.advance(days=6, hours=23)
    assert (await membership(fake, session, "alice"))[1]["state"] == "pending"
    clock.advance(hours=1)
    assert (await membership(fake, session, "alice"))[0] == 404
    with pytest.raises(KeyError):
        fake.accept_invitation("pallets-eco", "alice")
    assert fake.orgs["pallets-eco"]["expired"][0][0] == "alice"
    assert (await membership(fake, session, "alice", "PUT"))[1]["state"] == "pending"
    assert len(fake.invitations) == 2
    fake.accept_invitation("pallets-eco", "alice")
    assert (await membership(fake, session, "alice"))[1]["state"] == "active"


async def test_a_pending_invitation_is_not_created_twice(world):
    fake, session, _ = world
    await membership(fake, session, "alice", "PUT")
    assert (await membership(fake, session, "alice", "PUT"))[1]["state"] == "pending"
    assert len(fake.invitations) == 1


async def test_invitations_per_day_are_limited(world):
    fake, session, clock = world
    fake.invitation_daily_limit = 2
    assert (await membership(fake, session, "alice", "PUT"))[0] == 200
    assert (await membership(fake, session, "bob", "PUT"))[0] == 200
    status, body = await membership(fake, session, "carol", "PUT")
    assert status == 422 and "invitation rate limit" in str(body)
    clock.advance(days=1)
    assert (await membership(fake, session, "carol", "PUT"))[0] == 200


async def test_secondary_rate_limit_is_a_403_without_retry_after_and_says_so(world):
    fake, session, _ = world
    fake.add_repo("alice/flask-foo")
    fake.secondary_rate_limit(r"/repos/alice/flask-foo$")
    async with session.get(f"{fake.api_url}/repos/alice/flask-foo", headers=auth(fake.bot_token)) as resp:
        body = await resp.json()
        assert resp.status == 403 and "Retry-After" not in resp.headers
        assert resp.headers["X-RateLimit-Remaining"] != "0"  # the headers look like any refusal
        assert "secondary rate limit" in body["message"]
    async with session.get(f"{fake.api_url}/repos/alice/flask-foo", headers=auth(fake.bot_token)) as resp:
        assert resp.status == 200  # only as many times as asked


async def test_search_answers_have_no_etag_and_always_count(world):
    fake, session, _ = world
    fake.add_repo("pallets-eco/flask-mail", owner_type="Organization")
    fake.add_issue("pallets-eco/flask-mail", "Docs", labels=["docs"])
    url = f"{fake.api_url}/search/issues"
    params = {"q": "org:pallets-eco is:issue is:open"}
    remaining = []
    for _ in range(2):
        headers = {**auth(fake.bot_token), "If-None-Match": 'W/"anything"'}
        async with session.get(url, params=params, headers=headers) as resp:
            assert resp.status == 200 and "ETag" not in resp.headers
            assert resp.headers["X-RateLimit-Resource"] == "search"
            remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
    assert remaining == [29, 28] and fake.search_cost() == 2


@pytest.mark.parametrize(("token", "free"), [(True, True), (False, False)])
async def test_a_304_is_free_only_when_authenticated(world, token, free):
    fake, session, _ = world
    fake.add_repo("alice/flask-foo")
    url = f"{fake.api_url}/repos/alice/flask-foo"
    headers = auth(fake.bot_token if token else None)
    async with session.get(url, headers=headers) as resp:
        etag, before = resp.headers["ETag"], int(resp.headers["X-RateLimit-Remaining"])
    async with session.get(url, headers={**headers, "If-None-Match": etag}) as resp:
        assert resp.status == 304
    async with session.get(f"{fake.api_url}/repos/alice/flask-foo", headers=headers) as resp:
        after = int(resp.headers["X-RateLimit-Remaining"])
    assert before - after == (1 if free else 2)
    assert (fake.anonymous_cost() == 0) == token


async def test_rate_limit_windows_follow_the_fake_clock(world):
    fake, session, clock = world
    fake.add_repo("alice/flask-foo")
    fake.set_rate_limit(0, login=None)
    async with session.get(f"{fake.api_url}/repos/alice/flask-foo") as resp:
        assert resp.status == 403 and resp.headers["X-RateLimit-Remaining"] == "0"
    clock.advance(hours=1, seconds=1)
    async with session.get(f"{fake.api_url}/repos/alice/flask-foo") as resp:
        assert resp.status == 200


@pytest.mark.parametrize("status", [200, 400])
async def test_device_code_errors_come_with_either_status(world, status):
    fake, session, _ = world
    fake.device_flow_enabled = False
    fake.device_code_error_status = status
    async with session.post(f"{fake.web_url}/login/device/code", data={"client_id": fake.client_id},
                            headers={"Accept": "application/json"}) as resp:
        assert resp.status == status and (await resp.json())["error"] == "device_flow_disabled"


def test_invitation_lifetime_is_seven_days():
    from tests.fakes import github

    assert github.INVITATION_LIFETIME == timedelta(days=7) and github.INVITATIONS_PER_DAY == 50
