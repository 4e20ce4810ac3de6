"""The weekly digest DMs many subscribers without tripping Discord's "opening direct messages too fast"
(40003, a 400 that discord.py doesn't retry): DMs are paced, a refused one is retried later, nobody is
marked failed for it and nobody already served gets the week twice."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from tests.harness import Harness

ORG = "pallets-eco"
NOW = datetime.now(UTC).replace(microsecond=0)
FIRST_SUBSCRIBER = 900_000_000_000_003_000


async def digest_world(make_harness, subscribers: int, **contribute) -> tuple[Harness, list[int]]:
    h = await make_harness(contribute=contribute)
    h.clock.advance(seconds=(NOW - h.clock.now()).total_seconds())  # the fake GitHub stamps real dates
    h.github.add_org(ORG)
    h.github.add_repo(f"{ORG}/flask-mail", owner_type="Organization", pushed_at=NOW - timedelta(days=3))
    h.github.add_issue(f"{ORG}/flask-mail", "Brand new", labels=["good first issue"],
                       created_at=NOW - timedelta(days=1))
    cog = h.bot.get_cog("Contribute")
    await cog.service.refresh()
    users = [FIRST_SUBSCRIBER + i for i in range(subscribers)]
    for i, user in enumerate(users):
        h.discord.add_member(h.GUILD, user, f"subscriber-{i}")
        sub = await h.slash(user, "eco subscribe")
        await sub.wait_ack()
        assert "once a week" in sub.response_message.content
    return h, users


def dms_to(h: Harness, user: int) -> list[str]:
    return [m.text() for m in h.discord.messages_in(h.discord.dm_channel(user).id)]


def refusals(h: Harness) -> int:
    return sum(1 for c in h.discord.calls_to("POST", r"^/users/@me/channels$") if c.status == 400
               and (c.response or {}).get("code") == 40003)


async def test_a_digest_to_many_subscribers_is_paced_and_retried_until_everyone_has_it(make_harness):
    h, users = await digest_world(make_harness, 12, digest_dm_interval_seconds=0.05, digest_retry_seconds=0.3)
    h.discord.dm_open_limit = (4, 1.0)  # Discord's real rate is unpublished; this one is easy to trip
    started = time.monotonic()
    run = await h.bot.get_cog("Contribute").run_digest_once()
    elapsed = time.monotonic() - started
    assert (run.sent, run.failed, run.postponed) == (12, 0, 0)
    assert {u: len(dms_to(h, u)) for u in users} == {u: 1 for u in users}
    assert all("Brand new" in dms_to(h, u)[0] for u in users)
    assert refusals(h) >= 1  # Discord did push back, and the bot waited instead of giving up
    assert elapsed < 30
    # nothing left over: a second run the same week sends nothing
    again = await h.bot.get_cog("Contribute").run_digest_once()
    assert (again.sent, again.failed, again.postponed) == (0, 0, 0)
    assert {u: len(dms_to(h, u)) for u in users} == {u: 1 for u in users}


async def test_when_discord_keeps_refusing_the_rest_waits_for_the_next_run_not_marked_failed(make_harness):
    h, users = await digest_world(make_harness, 6, digest_dm_interval_seconds=0.0, digest_retry_seconds=0.05)
    h.discord.dm_open_limit = (3, 3600.0)  # three DMs, then Discord refuses for the rest of the run
    cog = h.bot.get_cog("Contribute")
    first = await cog.run_digest_once()
    assert (first.sent, first.failed, first.postponed) == (3, 0, 3)
    served = [u for u in users if dms_to(h, u)]
    assert len(served) == 3
    assert "digest for user" not in h.logs  # no failure logged for a refusal

    h.discord.dm_open_limit = (10, 10.0)  # an hour later Discord accepts again
    await h.restart()  # the next run may well be after a restart: the state is in the database
    await asyncio.sleep(0)
    second = await h.bot.get_cog("Contribute").run_digest_once()
    assert (second.sent, second.failed, second.postponed) == (3, 0, 0)
    assert {u: len(dms_to(h, u)) for u in users} == {u: 1 for u in users}  # nobody twice, nobody skipped
