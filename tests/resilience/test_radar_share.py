"""`/eco health`'s "Show publicly": the bot posts only where the member could post themselves, and a member
can't use it to flood a channel (one public share a minute)."""

from __future__ import annotations

from tests.fakes.discord_world import Perm
from tests.resilience.test_radar import eco, prime, world  # noqa: F401 (eco is the fixture)


async def _ask(eco):  # noqa: F811
    msg = await (await eco.slash(eco.USER, "eco health", project="Flask-Capped")).wait_message()
    [(cid, _, _)] = msg.buttons()
    return msg, cid


async def test_show_publicly_is_refused_where_the_member_cannot_post(eco):  # noqa: F811
    world(eco)
    await prime(eco)
    msg, cid = await _ask(eco)
    eco.discord.channels[eco.ECO_CHANNEL].overwrites.append(
        {"id": eco.USER, "type": 1, "allow": 0, "deny": Perm.SEND_MESSAGES})
    before = len(eco.discord.messages_in(eco.ECO_CHANNEL))
    refused = await (await eco.discord.click(eco.USER, msg, cid)).wait_message()
    assert refused.ephemeral and "can't post in this channel" in refused.text()
    assert len(eco.discord.messages_in(eco.ECO_CHANNEL)) == before


async def test_show_publicly_once_a_minute_per_member(eco):  # noqa: F811
    world(eco)
    await prime(eco)
    msg, cid = await _ask(eco)
    first = await eco.discord.click(eco.USER, msg, cid)
    await first.wait_ack()
    assert not first.response_message.ephemeral
    again = await (await eco.discord.click(eco.USER, msg, cid)).wait_message()
    assert again.ephemeral and "try again in 60 second(s)" in again.text()
    eco.clock.advance(seconds=61)
    later = await eco.discord.click(eco.USER, msg, cid)
    await later.wait_ack()
    assert not later.response_message.ephemeral
