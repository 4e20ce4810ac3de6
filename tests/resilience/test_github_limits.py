"""GitHub's rate limits as GitHub applies them (issue 14, items 4 and 8): secondary rate limits
answered 403 without Retry-After, and the stricter budget of a bot that runs without GITHUB_TOKEN.

Each test drives the real bot against the stricter fake GitHub and checks what the waiting user or
the operator sees, and what the bot sends GitHub meanwhile."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.cli import check
from bot.github import GitHubClient
from bot.http import RateLimited
from tests.e2e.test_review_flow import approve, setup_world
from tests.e2e.test_review_flow import submit as insert_submitted
from tests.e2e.test_verification_flow import CLIENT, SECRET, add_request, open_methods, start_device
from tests.fakes.github import FakeGitHub
from tests.resilience._support import ADMIN_TOKEN, fast_retries, request_row, settle, setup_transfer_world, submit
from tests.resilience._support import to_ready as form_ready

REFUSED = "refused"  # what a secondary limit used to become ("GitHub refused access", "refused to start")


# ----------------------------------------------------------------------------- 14.4: the client


async def test_secondary_limit_without_retry_after_waits_a_minute_then_doubles():
    async with FakeGitHub() as fake, aiohttp.ClientSession() as session:
        gh = GitHubClient(session, api_url=fake.api_url, web_url=fake.web_url, token=fake.bot_token)
        fake.add_repo("alice/flask-foo")
        waits = []
        for _ in range(3):
            fake.secondary_rate_limit(r"/repos/alice/flask-foo$")
            with pytest.raises(RateLimited) as info:
                await gh.get_repo("alice", "flask-foo")
            assert info.value.secondary and "secondary rate limit" in info.value.message
            assert REFUSED not in info.value.message
            waits.append(round(info.value.retry_after))
        assert waits == [60, 120, 240]  # at least a minute, then exponential back-off
        assert (await gh.get_repo("alice", "flask-foo")).full_name == "alice/flask-foo"
        fake.secondary_rate_limit(r"/repos/alice/flask-foo$", status=429)
        with pytest.raises(RateLimited) as info:
            await gh.get_repo("alice", "flask-foo")
        assert round(info.value.retry_after) == 60  # a success started the back-off afresh


# ----------------------------------------------------------------------------- 14.4: the users


async def test_device_sign_in_hit_by_a_secondary_limit_says_wait_not_refused(make_harness):
    h = await make_harness(github=CLIENT, env=SECRET)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    h.github.secondary_rate_limit(r"/login/device/code$")
    methods = await open_methods(h, request=rid)
    click = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
    told = (await click.wait_message()).text()
    assert "rate limiting" in told and "minute" in told, told
    assert REFUSED not in told and "isn't answering" not in told


async def test_secondary_limit_right_after_sign_in_is_told_as_a_wait(make_harness):
    h = await make_harness(github=CLIENT, env=SECRET)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    click, code = await start_device(h, rid)
    h.github.approve_device(code, "alice")
    h.github.secondary_rate_limit(r"/api/user$")
    before = len(click.messages())
    h.clock.advance(seconds=5)
    await h.bot.get_cog("Verification").run_pass()
    told = await click.wait_message(predicate=lambda m: len(click.messages()) > before and m is click.messages()[-1])
    assert "rate limiting" in told.text(), told.text()
    assert "GitHub failed while I was reading" not in told.text()
    assert h.github.revocations == ["alice"]  # the token is still used once and revoked


async def test_eligibility_hit_by_a_secondary_limit_is_postponed_as_a_rate_limit(make_harness):
    h = await make_harness()
    fast_retries(h)
    setup_transfer_world(h)
    msg = await form_ready(h)
    h.github.secondary_rate_limit(r"/repos/alice/flask-foo$", times=5)
    _, report = await submit(h, msg, timeout=20)
    assert "Checks postponed" in report.text() and "rate limiting the bot" in report.text(), report.text()
    [row] = await request_row(h)
    assert "secondary rate limit" in row.report_error and REFUSED not in row.report_error


async def test_member_listing_hit_by_a_secondary_limit_waits_instead_of_switching_tokens(make_harness):
    h = await make_harness(env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    h.repo = setup_world(h, admin=True)
    rid = await insert_submitted(h)
    await approve(h, rid)
    review = h.bot.get_cog("Review")
    mark = len(h.github.requests)
    h.github.secondary_rate_limit(r"/orgs/pallets-eco/members$")
    result = await review.run_tracking_pass()
    await settle(h)
    listings = [r for r in h.github.requests[mark:] if r.path.endswith("/orgs/pallets-eco/members")]
    assert len(listings) == 1  # no silent second try with the bot's own token
    assert result.aborted and "secondary rate limit" in result.aborted
    assert result.errors[rid] == result.aborted  # the card shows the wait, not "refused access"


# ----------------------------------------------------------------------------- 14.8: no GITHUB_TOKEN


async def test_without_a_token_unchanged_answers_still_cost_and_are_counted(make_harness):
    h = await make_harness(env={"GITHUB_TOKEN": ""})
    h.github.clock = h.clock.now
    h.clock.advance(seconds=(datetime.now(UTC) - h.clock.now()).total_seconds())
    h.github.add_org("pallets-eco")
    h.github.add_repo("pallets-eco/flask-mail", owner_type="Organization", pushed_at=datetime.now(UTC))
    h.github.add_issue("pallets-eco/flask-mail", "Fix the docs typo", labels=["good first issue"])
    service = h.bot.get_cog("Contribute").service
    assert (await service.refresh()).ok
    mark = len(h.github.requests)
    h.clock.advance(minutes=15)
    second = await service.refresh()
    again = h.github.requests[mark:]
    assert second.ok and any(r.status == 304 for r in again)
    assert not any(r.had_auth for r in again)
    # Every request counted against the IP's 60 an hour, 304s included, and the bot says so.
    assert second.rate_limit_cost == len(again) == second.requests


async def test_without_a_token_search_is_paced_at_ten_a_minute(make_harness):
    h = await make_harness(env={"GITHUB_TOKEN": ""})
    h.github.clock = h.clock.now
    h.github.add_org("pallets-eco")
    h.github.add_repo("pallets-eco/flask-mail", owner_type="Organization", pushed_at=datetime.now(UTC))
    for n in range(501):  # six search pages of 100
        h.github.add_issue("pallets-eco/flask-mail", f"Document option {n}", labels=["good first issue"])
    service = h.bot.get_cog("Contribute").service
    start = h.clock.now()
    for _ in range(2):  # twelve searches back to back: over the anonymous 10 a minute unless paced
        result = await service.refresh(force=True)
        assert result.ok and result.issues == 501, result
    searches = [r for r in h.github.requests if "/search/" in r.path]
    assert len(searches) == 12 and {r.status for r in searches} == {200}
    assert (h.clock.now() - start).total_seconds() >= 60  # the eleventh waited for the minute to pass


async def test_check_says_what_running_without_a_token_costs(make_harness, capsys):
    h = await make_harness()
    settings = dataclasses.replace(h.settings, secrets=dataclasses.replace(h.settings.secrets, github_token=None))
    await check(settings)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "GITHUB_TOKEN" in x)
    assert "60 requests an hour" in line and "10 searches a minute" in line and "304" in line, line
    assert "5,000" in line


async def test_tracking_backs_off_past_its_own_interval_while_secondary_limits_go_on(make_harness):
    h = await make_harness()
    h.repo = setup_world(h)
    rid = await insert_submitted(h)
    await approve(h, rid)
    review = h.bot.get_cog("Review")
    h.github.secondary_rate_limit(r"^/api/", times=5)
    waits = []
    for _ in range(5):  # each pass stops at its first refusal: 1, 2, 4, 8 then 16 minutes asked
        mark = len(h.github.requests)
        result = await review.run_tracking_pass()
        assert "secondary rate limit" in (result.aborted or "")
        assert [r.status for r in h.github.requests[mark:] if r.path.startswith("/api/")] == [403]
        waits.append(result.aborted.rsplit("in ", 1)[1])
        h.clock.advance(minutes=10)
    assert waits[0] == "60 seconds." and waits[-1] == "about 16 minutes."
    mark = len(h.github.requests)
    result = await review.run_tracking_pass()  # 10 minutes after a 16-minute wait: not yet
    assert "waiting for GitHub's rate limit" in (result.aborted or "") and len(h.github.requests) == mark
    h.clock.advance(minutes=7)
    result = await review.run_tracking_pass()
    assert result.aborted is None and result.checked == 1
