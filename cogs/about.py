"""`/eco about`: what the bot does and where to read more. Answers from local data only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.services.about import about_text
from cogs._base import EcoCog

if TYPE_CHECKING:
    from bot.app import EcoBot


def render_about(org: str) -> discord.Embed:
    info = about_text(org)
    embed = discord.Embed(title=info.title, description=info.description, colour=discord.Colour.blurple())
    for name, value in info.sections:
        embed.add_field(name=name, value=value, inline=False)
    embed.add_field(name="Links", value="\n".join(f"[{label}]({url})" for label, url in info.links), inline=False)
    return embed


class About(EcoCog):
    @app_commands.command(name="about", description="What this bot does and how the pallets-eco process works")
    async def about(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            embed=render_about(self.bot.settings.github.org), ephemeral=True
        )


async def setup(bot: EcoBot) -> None:
    await bot.add_cog(About(bot))
