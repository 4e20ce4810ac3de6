"""Shared pieces of the Discord layer: the /eco group plumbing, role checks, guarded components."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotAllowed
from bot.services.review import REQUESTER_VOTE

if TYPE_CHECKING:
    from bot.app import EcoBot

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])


class EcoCog(commands.Cog):
    """A cog whose slash commands become subcommands of `/eco`.

    Declare commands with `@app_commands.command`; on load they are moved under the bot's shared
    `eco` group (one top-level command for the whole bot), and removed again on unload.
    """

    def __init__(self, bot: EcoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        moved = []
        for command in self.__cog_app_commands__:
            if isinstance(command, app_commands.Command | app_commands.Group) and command.parent is None:
                self.bot.eco_group.add_command(command)
                moved.append(command)
        # What is left (context menus, if any) is added at the top level by discord.py.
        self.__cog_app_commands__ = [c for c in self.__cog_app_commands__ if c not in moved]
        self._eco_commands = moved

    async def cog_unload(self) -> None:
        for command in getattr(self, "_eco_commands", []):
            self.bot.eco_group.remove_command(command.name)


# Reactions on a review card that never count: removed (with Manage Messages) so the card stays readable.
STRAY_VOTE_REASONS = ("not a voting reaction", "not a maintainer", REQUESTER_VOTE)


def card_reaction_emoji(bot: EcoBot, payload: discord.RawReactionActionEvent) -> str | None:
    """The emoji key of a person's reaction in the review channel (where cards live), else None."""
    if payload.channel_id != bot.settings.discord.review_channel_id or payload.guild_id is None:
        return None
    if bot.user is not None and payload.user_id == bot.user.id:
        return None
    return str(payload.emoji) if payload.emoji.is_unicode_emoji() else f"{payload.emoji.name}:{payload.emoji.id}"


async def remove_stray_reaction(bot: EcoBot, payload: discord.RawReactionActionEvent) -> None:
    channel = bot.get_channel(payload.channel_id)
    if not isinstance(channel, discord.TextChannel):
        return
    me = channel.guild.me
    if me is None or not channel.permissions_for(me).manage_messages:
        return  # ignored instead: it never counts anyway
    try:
        await channel.get_partial_message(payload.message_id).remove_reaction(
            payload.emoji, discord.Object(payload.user_id)
        )
    except discord.HTTPException:
        log.debug("could not remove a reaction on card %s", payload.message_id)


def require_maintainer(interaction: discord.Interaction) -> None:
    bot: EcoBot = interaction.client  # type: ignore[assignment]
    if not bot.is_maintainer(interaction.user):
        raise NotAllowed("Only Pallets maintainers can do that.")


class GuardedDynamicItem(discord.ui.DynamicItem[ItemT], template=r"eco:internal:guarded-base"):
    """A persistent component whose failures reach the bot's single error path.

    discord.py only logs exceptions raised by DynamicItem callbacks; subclasses implement `handle`
    and the user always gets an answer. Subclasses pass their own `template=`; this base's template is
    never registered with the bot.
    """

    async def handle(self, interaction: discord.Interaction) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.handle(interaction)
        except Exception as exc:
            bot: EcoBot = interaction.client  # type: ignore[assignment]
            await bot.report_error(interaction, exc)


class GuardedModal(discord.ui.Modal):
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        bot: EcoBot = interaction.client  # type: ignore[assignment]
        await bot.report_error(interaction, error)


class GuardedView(discord.ui.View):
    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        bot: EcoBot = interaction.client  # type: ignore[assignment]
        await bot.report_error(interaction, error)


def custom_id_template(pattern: str) -> str:
    """Check and return a `eco:<feature>:<action>:...` template (a regex for DynamicItem).

    Uniqueness across features is asserted by a meta test over every DynamicItem subclass."""
    if not pattern.startswith("eco:"):
        raise ValueError("custom_id templates start with 'eco:'")
    re.compile(pattern)
    return pattern


MESSAGE_LIMIT = 2000  # characters in a message's content (Discord)


def fit_message(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to fit one message, ending with a visible marker when something was left out."""
    if len(text) <= limit:
        return text
    marker = "… (shortened)"
    return text[: limit - len(marker)].rstrip() + marker


def modal_values(data: dict[str, Any]) -> dict[str, str]:
    """Text values by custom_id from a modal submission's raw data (inputs nested in rows or labels):
    for persistent forms handled by a listener, with no in-memory Modal object."""
    values: dict[str, str] = {}
    stack = list(data.get("components") or ())
    while stack:
        component = stack.pop()
        if component.get("custom_id") and "value" in component:
            values[str(component["custom_id"])] = str(component.get("value") or "")
        stack.extend(component.get("components") or ())
        if component.get("component"):
            stack.append(component["component"])
    return values
