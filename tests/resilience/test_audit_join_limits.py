"""Audit of `/eco queue` since `/eco join` landed: it answers with two embeds (transfers, then join
requests) in one message, and Discord's 6,000-character limit counts every embed of a message together
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits). A busy queue of both
kinds must still be answered, within the limit, saying what was left out."""

from __future__ import annotations

from datetime import timedelta

from bot.db.models.join import JoinRequest
from tests.e2e.test_verification_flow import add_request


async def test_a_full_transfer_queue_and_a_full_join_queue_fit_one_answer(make_harness):
    h = await make_harness()
    now = h.clock.now()
    for state in ("submitted", "under_review", "approved", "transferring"):
        for n in range(30):
            await add_request(h, repo=f"{'o' * 39}/{state}-{n:02d}-{'r' * 60}", requester=10**17 + n, state=state,
                              submitted_at=now - timedelta(days=n))
    async with h.db() as session:
        for n in range(40):
            session.add(JoinRequest(guild_id=h.guild_id, requester_id=10**17 + 1000 + n, state="under_review",
                                    github_login=f"{'l' * 35}{n:04d}", about="hi", created_at=now - timedelta(hours=n),
                                    updated_at=now))
        await session.commit()
    answer = await (await h.slash(h.MAINTAINER, "eco queue")).wait_message()
    assert answer.ephemeral
    titles = [e.get("title") for e in answer.embeds]
    assert titles == ["Transfer queue", "Join requests"], answer.text()[:300]
    total = sum(len(e.get("title") or "") + len(e.get("description") or "")
                + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", ())) for e in answer.embeds)
    assert total <= 6000
    joins = answer.embeds[1]["description"]
    assert f"#{1}" in joins and "more" in joins  # the first ones shown, the rest counted
