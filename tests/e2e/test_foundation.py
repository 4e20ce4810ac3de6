"""The foundation, end to end: the real bot logs into the fake Discord, answers /eco about quickly,
keeps its command tree in sync only when it changed, and routes errors to one friendly handler."""

from __future__ import annotations

import discord

from bot.app import extension_names
from cogs._base import GuardedDynamicItem


def _dynamic_items():
    # load_extension re-executes a cog module on every bot start: keep one class per qualified name.
    seen, stack = {}, list(discord.ui.DynamicItem.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("cogs.") and cls is not GuardedDynamicItem:
            seen[(cls.__module__, cls.__qualname__)] = cls
    return list(seen.values())


async def test_about_is_answered_ephemerally_and_fast(harness):
    interaction = await harness.slash(harness.USER, "eco about")
    await interaction.wait_ack()
    assert interaction.ack_latency < 1.0
    message = interaction.response_message
    assert message.ephemeral
    text = interaction.text()
    assert "/eco transfer" in text
    assert "https://palletsprojects.com/contributing/" in text
    assert "https://palletsprojects.com/ecosystem" in text
    assert "not an official extension repository" in text
    assert not harness.discord.unknown_routes


async def test_restart_with_unchanged_tree_makes_no_sync_call(harness):
    assert harness.discord.sync_calls == 1
    synced = harness.discord.commands_in(harness.GUILD)
    assert any(cmd["name"] == "eco" for cmd in synced)
    await harness.restart()
    assert harness.discord.sync_calls == 1
    assert harness.bot.synced_on_start is None or harness.bot.synced_on_start is False
    interaction = await harness.slash(harness.USER, "eco about")
    await interaction.wait_ack()
    assert interaction.response_message.ephemeral


async def test_identify_uses_only_needed_intents(harness):
    intents = discord.Intents._from_value(harness.discord.identified_intents[-1])
    assert intents.guilds and intents.guild_messages and intents.guild_reactions
    assert not intents.members and not intents.presences and not intents.message_content


async def test_unexpected_error_gives_an_error_id_and_logs_details(harness):
    bot = harness.bot

    @discord.app_commands.command(name="boom", description="fails")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom internals")

    bot.tree.add_command(boom, guild=discord.Object(harness.GUILD))
    interaction = await harness.discord.slash(
        harness.USER, "boom", channel_id=harness.ECO_CHANNEL, guild_id=harness.GUILD, command_guild_id=harness.GUILD
    )
    reply = await interaction.wait_message()
    assert reply.ephemeral
    assert "Sorry, something went wrong" in reply.content and "error id" in reply.content
    assert "kaboom internals" not in reply.content
    assert "kaboom internals" in harness.logs
    assert f"user={harness.USER}" in harness.logs


async def test_every_cog_loads_and_commands_and_custom_ids_are_unique(harness):
    bot = harness.bot
    assert sorted(bot.extensions) == extension_names()
    names = [c.name for c in bot.eco_group.commands]
    assert len(names) == len(set(names))
    assert "about" in names
    top_level = [c.name for c in bot.tree.get_commands(guild=discord.Object(harness.GUILD))]
    assert len(top_level) == len(set(top_level))
    templates = [cls.__discord_ui_compiled_template__.pattern for cls in _dynamic_items()]
    assert templates, "no persistent components found"
    assert len(templates) == len(set(templates))
    assert all(t.startswith("eco:") for t in templates)
    # Every feature's templates live in its own namespace: eco:<feature>:<action>:...
    prefixes = [":".join(t.split(":")[:3]) for t in templates]
    assert len(prefixes) == len(set(prefixes)), prefixes
    for command in bot.tree.walk_commands():
        assert command.description, command.qualified_name
        for param in getattr(command, "parameters", []):
            assert param.description and param.description != "…", (command.qualified_name, param.name)


async def test_bot_sends_with_no_mentions_allowed_by_default(harness):
    assert harness.bot.allowed_mentions.everyone is False
    assert harness.bot.allowed_mentions.roles is False
    assert harness.bot.allowed_mentions.users is False
