"""The baseline: a minimal discord.py bot that acknowledges every interaction at once, nothing else.

It listens to the same gateway events as the real bot (same intents, same default message cache), so
any difference in a benchmark is what the real bot does on top of plain discord.py.
"""

from __future__ import annotations

import discord


def baseline_intents(message_content: bool = True) -> discord.Intents:
    # Mirrors bot.app.intents_for without importing the bot, so the baseline stays bare.
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.dm_messages = True
    intents.message_content = message_content
    return intents


class BareBot(discord.Client):
    def __init__(self, *, message_content: bool = True, **options) -> None:
        super().__init__(intents=baseline_intents(message_content), **options)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # The cheapest valid acknowledgement for any interaction type: a deferral.
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True)
