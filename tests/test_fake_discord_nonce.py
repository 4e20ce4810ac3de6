"""Self-test of the fake Discord's Create Message `nonce` / `enforce_nonce` rule, against a real discord.py
client (which sends `enforce_nonce: true` with every nonce). Source: Create Message in
developers/resources/message.mdx (discord/discord-api-docs), cited in tests/fakes/discord_rest_routes.py."""

from __future__ import annotations

import discord
import pytest

from tests.fakes.discord import FakeDiscord
from tests.test_fake_discord import CHANNEL, FakeTestBot, bot, fake

__all__ = ["bot", "fake"]  # fixtures re-used from the fake's main self-test


async def test_a_repeated_nonce_returns_the_first_message_and_creates_none(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    first = await channel.send("the checklist", nonce="eco-told-7")  # type: ignore[union-attr]
    again = await channel.send("the checklist", nonce="eco-told-7")  # type: ignore[union-attr]
    assert again.id == first.id
    assert [m.text() for m in fake.messages_in(CHANNEL)] == ["the checklist"]
    assert fake.nonce_replays == [first.id]
    other = await channel.send("another one", nonce="eco-told-8")  # type: ignore[union-attr]
    plain = await channel.send("no nonce given: discord.py draws a random one")  # type: ignore[union-attr]
    assert len({first.id, other.id, plain.id}) == 3 and len(fake.messages_in(CHANNEL)) == 3


async def test_a_nonce_is_only_remembered_for_a_few_minutes(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    first = await channel.send("hello", nonce="n-1")  # type: ignore[union-attr]
    when, message_id = fake.nonces[(fake.bot_user.id, "n-1")]
    fake.nonces[(fake.bot_user.id, "n-1")] = (when - 600, message_id)  # as if sent 10 minutes ago
    later = await channel.send("hello", nonce="n-1")  # type: ignore[union-attr]
    assert later.id != first.id and len(fake.messages_in(CHANNEL)) == 2


async def test_a_nonce_longer_than_25_characters_is_refused(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("hello", nonce="x" * 26)  # type: ignore[union-attr]
    assert refused.value.status == 400 and refused.value.code == 50035
    assert fake.messages_in(CHANNEL) == []
