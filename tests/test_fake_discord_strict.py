"""Self-tests of the fake Discord's stricter rules (issue 13), each against a real discord.py client:
system messages on the gateway, no replies to system messages, replies need Read Message History,
and close 4014 for a privileged intent the application isn't allowed.

Sources are cited where each rule is implemented (tests/fakes/discord*.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import discord
import pytest

from tests.fakes.discord import FakeDiscord, Perm, patch_discord_urls
from tests.test_fake_discord import ALICE, BOB, CHANNEL, GUILD, FakeTestBot, bot, fake, running_bot, wait_for

__all__ = ["bot", "fake"]  # fixtures re-used from the fake's main self-test

CAROL = 900_000_000_000_000_102


async def test_member_join_notice_reaches_the_bot_as_a_system_message(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.set_system_channel(GUILD, CHANNEL)
    await wait_for(lambda: bot.get_guild(GUILD).system_channel is not None)  # type: ignore[union-attr]
    fake.add_member(GUILD, CAROL, "carol")
    await wait_for(lambda: bot.events["message"])
    (notice,) = bot.events["message"]
    assert notice.type is discord.MessageType.new_member and notice.is_system()
    assert notice.author.id == CAROL and notice.content == ""
    assert isinstance(notice.author, discord.Member) and notice.author.joined_at is not None


async def test_no_join_notice_without_a_system_channel(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.add_member(GUILD, CAROL, "carol")
    await fake.send_message(ALICE, CHANNEL, "after the join")
    await wait_for(lambda: bot.events["message"])
    assert [m.content for m in bot.events["message"]] == ["after the join"]


async def test_back_dated_member_payload_carries_joined_at(fake: FakeDiscord, bot: FakeTestBot) -> None:
    long_ago = datetime(2020, 5, 1, tzinfo=UTC)
    fake.add_member(GUILD, CAROL, "carol", joined_at=long_ago)
    await fake.send_message(CAROL, CHANNEL, "hello")
    await wait_for(lambda: bot.events["message"])
    author = bot.events["message"][0].author
    assert isinstance(author, discord.Member) and author.joined_at == long_ago


async def test_thread_created_and_pin_notices(fake: FakeDiscord, bot: FakeTestBot) -> None:
    starter = await fake.send_message(BOB, CHANNEL, "an older message")
    thread = await fake.create_thread_as_user(ALICE, CHANNEL, "How do I transfer my extension?", message=starter)
    await wait_for(lambda: len(bot.events["message"]) == 2)
    created = bot.events["message"][1]
    assert created.type is discord.MessageType.thread_created and created.is_system()
    assert created.content == thread.name and created.author.id == ALICE and thread.id == starter.id
    assert created.reference is not None and created.reference.channel_id == thread.id
    # Without a starting message (public or private) Discord documents no notice.
    await fake.create_thread_as_user(ALICE, CHANNEL, "private one", private=True)
    await fake.create_thread_as_user(ALICE, CHANNEL, "public one")

    original = await fake.send_message(BOB, CHANNEL, "pin me")
    notice = await fake.pin_as_user(ALICE, original)
    await wait_for(lambda: len(bot.events["message"]) == 4)
    assert [m.id for m in bot.events["message"]][2] == original.id
    pinned = bot.events["message"][3]
    assert pinned.id == notice.id and pinned.type is discord.MessageType.pins_add and pinned.is_system()
    assert pinned.reference is not None and pinned.reference.message_id == original.id


async def test_replying_to_a_system_message_is_refused(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.set_system_channel(GUILD, CHANNEL)
    fake.add_member(GUILD, CAROL, "carol")
    await wait_for(lambda: bot.events["message"])
    notice = bot.events["message"][0]
    with pytest.raises(discord.HTTPException) as refused:
        await notice.reply("welcome!")
    assert refused.value.status == 400 and refused.value.code == 50035
    assert "Cannot reply to a system message" in refused.value.text
    # A plain message in the same channel, and a reply to an ordinary message, still work.
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("welcome!")
    ordinary = await fake.send_message(ALICE, CHANNEL, "hi")
    await wait_for(lambda: any(m.id == ordinary.id for m in bot.events["message"]))
    received = next(m for m in bot.events["message"] if m.id == ordinary.id)
    await received.reply("hello")


async def test_reply_needs_read_message_history(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.channels[CHANNEL].overwrites.append(
        {"id": fake.bot_user.id, "type": 1, "allow": 0, "deny": Perm.READ_MESSAGE_HISTORY}
    )
    sent = await fake.send_message(ALICE, CHANNEL, "question")
    await wait_for(lambda: bot.events["message"])
    with pytest.raises(discord.Forbidden) as refused:
        await bot.events["message"][0].reply("answer")
    assert refused.value.code == 160002
    # Without a reference the same message goes through: only replies need the history permission.
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("answer")
    assert [m.content for m in fake.messages_in(CHANNEL) if m.id > sent.id] == ["answer"]


async def test_disallowed_privileged_intent_closes_with_4014(fake: FakeDiscord) -> None:
    fake.message_content_intent_granted = False
    client = FakeTestBot(message_content=True)
    with patch_discord_urls(fake):
        async with client:
            with pytest.raises(discord.PrivilegedIntentsRequired):
                await asyncio.wait_for(client.start(fake.token), 10)
    assert fake.disallowed_intent_closes == 1
    # The application's flags, as GET /oauth2/applications/@me reports them, show the toggle is off.
    assert not fake.application_flags & ((1 << 18) | (1 << 19))


async def test_members_intent_must_be_granted_too(fake: FakeDiscord) -> None:
    fake.members_intent_granted = False
    client = FakeTestBot(message_content=False)
    client._connection._intents.members = True  # what `Intents(members=True)` would send
    with patch_discord_urls(fake):
        async with client:
            with pytest.raises(discord.PrivilegedIntentsRequired):
                await asyncio.wait_for(client.start(fake.token), 10)


async def test_granted_intent_connects(fake: FakeDiscord) -> None:
    async with running_bot(fake, message_content=True):
        assert fake.disallowed_intent_closes == 0
        assert fake.identified_intents[-1] & (1 << 15)


async def test_join_dates_default_to_now(fake: FakeDiscord) -> None:
    member = fake.add_member(GUILD, CAROL, "carol")
    assert abs(member.joined_at - datetime.now(UTC)) < timedelta(seconds=5)
