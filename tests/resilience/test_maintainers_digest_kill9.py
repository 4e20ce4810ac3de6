"""kill -9 around the hour of the maintainers' weekly digest: the real `python -m bot` process (weekly loop
on, real clock), killed while the digest is due, again and again, and with a claim left by a process that
died between claiming the week and posting, and one that died after posting but before recording it.
Across all of it the week is posted exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.db.models.maintainers_digest import MaintainersDigestWeek
from bot.services.maintainers_digest import week_key
from tests.resilience._support import setup_transfer_world, wait_for
from tests.resilience.test_kill9 import ProcessHarness

LEASE_MINUTES = 0.05  # 3 s: a claim of a dead process is taken over after this


def weekly_posts(h) -> list:
    return [m for m in h.discord.messages_in(h.REVIEW_CHANNEL)
            if any("Weekly maintainers' digest" in ((e.get("footer") or {}).get("text") or "") for e in m.embeds)]


@pytest.fixture
async def ph(tmp_path):
    harness = ProcessHarness(tmp_path)
    await harness.start()
    setup_transfer_world(harness, admin=True)
    now = datetime.now(UTC)
    # Due now: this weekday, this hour (UTC); checked every 0.6 s.
    with harness.config_path.open("a") as config:
        config.write(f"\n[digest]\nweekday = {now.weekday()}\nhour = {now.hour}\ncheck_minutes = 0.01\n"
                     f"claim_lease_minutes = {LEASE_MINUTES}\n")
    try:
        yield harness
    finally:
        await harness.close()


async def set_week(h, **values) -> None:
    async with h.db() as session:
        await session.execute(update(MaintainersDigestWeek)
                              .where(MaintainersDigestWeek.week_key == week_key(datetime.now(UTC)))
                              .values(**values))
        await session.commit()


async def week_row(h) -> MaintainersDigestWeek | None:
    async with h.db() as session:
        return await session.get(MaintainersDigestWeek, week_key(datetime.now(UTC)))


async def test_weekly_digest_posted_once_across_kill9_at_the_hour(ph):
    h = ph
    # Killed as soon as it is up, three times, while the week's digest is due.
    for _ in range(3):
        await h.start_bot()
        await h.kill9()
    await h.start_bot()
    await wait_for(lambda: weekly_posts(h), timeout=15, what="the weekly digest")
    await asyncio.sleep(LEASE_MINUTES * 60 + 2)  # past any lease a killed process left behind
    assert len(weekly_posts(h)) == 1
    row = await week_row(h)
    assert row is not None and row.message_id == weekly_posts(h)[0].id

    # Killed after sending, before recording the message id: the next process finds the post.
    await h.kill9()
    await set_week(h, posted_at=None, message_id=None, claimed_at=datetime.now(UTC))
    await h.start_bot()
    await wait_for(lambda: _recorded(h), timeout=20, what="the post found and recorded")
    assert len(weekly_posts(h)) == 1

    # Killed between claiming the week and sending: posted once, by the next process, after the lease.
    await h.kill9()
    h.discord.delete_message(h.REVIEW_CHANNEL, weekly_posts(h)[0].id)
    await set_week(h, posted_at=None, message_id=None, claimed_at=datetime.now(UTC))
    await h.start_bot()
    await wait_for(lambda: weekly_posts(h), timeout=20, what="the digest posted by the next process")
    await asyncio.sleep(LEASE_MINUTES * 60 + 2)
    assert len(weekly_posts(h)) == 1
    row = await week_row(h)
    assert row.message_id == weekly_posts(h)[0].id
    assert row.claimed_at > datetime.now(UTC) - timedelta(minutes=5)


async def _recorded(h) -> bool:
    row = await week_row(h)
    return row is not None and row.posted_at is not None and bool(weekly_posts(h)) \
        and row.message_id == weekly_posts(h)[0].id
