"""GitHub and PyPI failing in every way a real API does (500, 502, timeouts, dropped connections,
malformed JSON, 403 with `x-ratelimit-reset`, 429 with `retry-after`) during eligibility checks,
ownership verification, tracking and the suggestion refresh: no crash, no wrong state, retried later,
and the user is told when they have to wait."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db.models.review import ChecklistItem
from bot.db.models.verification import Verification
from tests.e2e.test_contribute_flow import ORG, listed
from tests.e2e.test_review_flow import approve, setup_world
from tests.e2e.test_review_flow import submit as insert_submitted
from tests.e2e.test_verification_flow import CLIENT, SECRET, add_request, press_check, start_device, start_topic
from tests.fakes.github import FakeService
from tests.resilience._support import (
    fast_retries,
    request_row,
    setup_transfer_world,
    stored,
    submit,
    to_ready,
    wait_state,
)

# Faults that fail the whole operation (5xx are retried twice by the client first).
KINDS = ["500", "502", "timeout", "connection-dropped", "malformed-json", "403-ratelimit-reset", "429-retry-after"]
GITHUB_FAST_TIMEOUT = {"github": {"timeout_seconds": 0.3}, "pypi": {"timeout_seconds": 0.3}}


def inject(fake: FakeService, kind: str, path_regex: str = ".") -> None:
    """Make `fake` fail every matching request in the way `kind` names, until `heal`."""
    if kind == "timeout":
        fake.latency = 0.6  # the harness above sets a 0.3 s client timeout
    elif kind == "connection-dropped":
        fake.down = "close"
    elif kind == "malformed-json":
        fake.fail(None, path_regex, 200, times=1000, body='{"id": 1, "name": ')
    elif kind == "403-ratelimit-reset":
        reset = str(int(time.time()) + 600)
        fake.fail(None, path_regex, 403, times=1000, body={"message": "API rate limit exceeded"},
                  headers={"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    elif kind == "429-retry-after":
        fake.fail(None, path_regex, 429, times=1000, body={"message": "secondary rate limit"},
                  headers={"Retry-After": "120"})
    else:
        fake.fail(None, path_regex, int(kind), times=1000)


def heal(fake: FakeService) -> None:
    fake.latency, fake.down = 0.0, False
    fake._faults.clear()  # the injected faults above: nothing else uses them


def assert_no_crash(h: Any) -> None:
    assert "Traceback" not in h.logs and " ERROR " not in h.logs, h.logs[-3000:]


# ----------------------------------------------------------------------------- eligibility


async def test_eligibility_is_postponed_told_and_retried(make_harness):
    h = await make_harness(**GITHUB_FAST_TIMEOUT)
    fast_retries(h)
    setup_transfer_world(h)
    transfers = h.bot.get_cog("Transfers").service
    cases = [("github", k) for k in KINDS] + [("pypi", k) for k in ("500", "timeout", "malformed-json",
                                                                        "429-retry-after")]
    for service, kind in cases:
        msg = await to_ready(h)
        fake = h.github if service == "github" else h.pypi
        inject(fake, kind, r"/repos/alice/flask-foo$" if service == "github" else r"/pypi/")
        _, report = await submit(h, msg, timeout=20)
        assert "Checks postponed" in report.text() and "retries the checks" in report.text(), (service, kind)
        [row] = [r for r in await request_row(h) if r.state != "withdrawn"]
        assert row.state in ("submitted", "under_review")
        assert row.report_error and row.report_json is None and row.verdict is None, (service, kind)
        assert await transfers.retry_pending_checks() == []  # not due yet: no hammering
        status = await (await h.slash(h.USER, "eco status")).wait_message()
        assert re.search("postponed|pending", status.text()), status.text()

        heal(fake)
        h.clock.advance(minutes=6)
        assert await transfers.retry_pending_checks() == [row.id], (service, kind)
        [row] = await request_row(h, id=row.id)
        assert row.verdict == "eligible" and row.report_error is None
        await wait_state(h, row.id, "under_review")
        await transfers.withdraw(row.id, h.USER)  # frees the repository for the next case
    assert_no_crash(h)


# ----------------------------------------------------------------------------- verification


async def test_topic_check_failures_are_explained_and_change_nothing(make_harness):
    # Presses in a row: the per-user "Check" cooldown (tests/resilience/test_audit_verification.py) is off here.
    h = await make_harness(github={**CLIENT, "timeout_seconds": 0.3, "check_cooldown_seconds": 0}, env=SECRET)
    fast_retries(h)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    message, nonce = await start_topic(h, rid)
    h.github.set_topics("alice/flask-foo", [nonce])
    told = {
        "500": "GitHub isn't answering right now", "502": "GitHub isn't answering right now",
        "timeout": "GitHub isn't answering right now", "connection-dropped": "GitHub isn't answering right now",
        "malformed-json": "GitHub isn't answering right now", "403-ratelimit-reset": "rate limiting the bot",
        "429-retry-after": "try again in about 2 minute(s)",
    }
    for kind in KINDS:
        inject(h.github, kind, r"/repos/alice/flask-foo$")
        assert told[kind] in await press_check(h, message, rid), kind
        assert (await stored(h, rid)).verified_at is None
        heal(h.github)
    assert "Verified" in await press_check(h, message, rid)  # the same button, later
    assert_no_crash(h)


async def test_device_flow_polling_waits_out_failures_without_bothering_the_user(make_harness):
    h = await make_harness(github={**CLIENT, "timeout_seconds": 0.3}, env=SECRET)
    fast_retries(h)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    click, code = await start_device(h, rid)
    shown = len(click.messages())
    verification = h.bot.get_cog("Verification")
    for kind in ("429-retry-after", "403-ratelimit-reset", "502", "timeout", "malformed-json"):
        inject(h.github, kind, r"/login/oauth/access_token$")
        h.clock.advance(seconds=10)
        assert await verification.run_pass() == [], kind
        async with h.db() as s:
            [flow] = list(await s.scalars(select(Verification).where(Verification.request_id == rid)))
        assert flow.state == "pending" and flow.last_error in ("rate_limited", "github_unavailable"), kind
        if kind == "429-retry-after":  # GitHub's retry-after is honoured: no poll before it passed
            polls = h.github.count("POST", "access_token")
            h.clock.advance(seconds=60)
            await verification.run_pass()
            assert h.github.count("POST", "access_token") == polls
            h.clock.advance(seconds=61)
        if kind == "403-ratelimit-reset":  # waits until x-ratelimit-reset (10 minutes here)
            h.clock.advance(seconds=601)
        heal(h.github)
    assert len(click.messages()) == shown  # nothing said while waiting
    h.github.approve_device(code, "alice")
    h.clock.advance(seconds=10)
    await verification.run_pass()
    # The interaction token lapsed during the long waits: the news comes by DM.
    dm = h.discord.dm_channel(h.USER).id
    told = await h.discord.wait_for_message(
        None, lambda m: "Verified" in m.text() and (m.channel_id == dm or m in click.messages()))
    assert "alice" in told.text() and (await stored(h, rid)).verified_github_login == "alice"
    assert_no_crash(h)


# ----------------------------------------------------------------------------- tracking


async def test_tracking_pass_aborts_cleanly_and_resumes(make_harness):
    h = await make_harness(**GITHUB_FAST_TIMEOUT)
    fast_retries(h)
    h.repo = setup_world(h)
    rid = await insert_submitted(h)
    await approve(h, rid)
    h.github.add_member("pallets-eco", "alice")
    h.github.transfer_repo("alice/flask-thing", "pallets-eco")
    review = h.bot.get_cog("Review")
    for kind in KINDS:
        inject(h.github, kind)
        result = await review.run_tracking_pass()
        assert result.aborted or result.errors, (kind, result)
        assert (await stored(h, rid)).state == "approved"
        async with h.db() as s:
            done = list(await s.scalars(select(ChecklistItem.key).where(ChecklistItem.request_id == rid,
                                                                        ChecklistItem.done_at.is_not(None))))
        assert done == [], kind  # an error never ticks anything
        heal(h.github)
    await review.run_tracking_pass()
    assert (await stored(h, rid)).state == "transferring"
    assert_no_crash(h)


# ----------------------------------------------------------------------------- suggestion refresh


async def test_suggestion_refresh_keeps_the_cache_and_backs_off(make_harness):
    h = await make_harness(**GITHUB_FAST_TIMEOUT)
    fast_retries(h)
    assert isinstance(h.clock, FakeClock)
    h.clock.advance(seconds=(datetime.now(UTC) - h.clock.now()).total_seconds())  # fake GitHub dates are real
    h.github.add_org(ORG)
    h.github.add_repo(f"{ORG}/flask-mail", owner_type="Organization", pushed_at=datetime.now(UTC))
    h.github.add_issue(f"{ORG}/flask-mail", "Fix the docs typo", labels=["good first issue"])
    service = h.bot.get_cog("Contribute").service
    assert (await service.refresh()).ok
    for n, kind in enumerate(KINDS):
        inject(h.github, kind, r"/search/issues")
        h.clock.advance(minutes=20)
        failed = await service.refresh()
        assert not failed.ok and failed.error, kind
        before = len(h.github.requests)
        again = await service.refresh()
        if kind in ("403-ratelimit-reset", "429-retry-after"):
            assert again.skipped and len(h.github.requests) == before, kind  # the reset time is respected
        h.clock.advance(minutes=40)
        answer = await (await h.slash(h.USER, "eco contribute")).wait_message()
        assert listed(answer) == ["Fix the docs typo"], kind  # the cached list survives
        assert "GitHub could not be reached since" in answer.text(), kind  # and the user is told it is old
        heal(h.github)
        h.clock.advance(minutes=20)
        assert (await service.refresh()).ok, kind
        fresh = await (await h.slash(h.USER2, "eco contribute")).wait_message()
        assert not re.search("could not be reached", fresh.text()), kind
    assert_no_crash(h)
