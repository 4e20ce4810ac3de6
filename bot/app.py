"""The Bot subclass: wiring, extension discovery, command sync on purpose, one error path."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import logging
import pkgutil
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import cogs
from bot.clock import Clock
from bot.config import Settings
from bot.db.models.core import BotState
from bot.errors import DomainError
from bot.github import GitHubClient
from bot.logging_setup import SecretFilter
from bot.pypi import PyPIClient
from bot.services import heartbeat
from cogs._base import fit_message

log = logging.getLogger(__name__)

TREE_HASH_KEY = "command_tree_hash"
CRITICAL_GRACE_SECONDS = 2.0
HANDLER_GRACE_SECONDS = 2.0


@dataclass
class Deps:
    """Everything built by the composition root and handed to the bot. Cogs take what they need."""

    settings: Settings
    db: async_sessionmaker[AsyncSession]
    http: aiohttp.ClientSession
    github: GitHubClient
    pypi: PyPIClient
    clock: Clock
    secret_filter: SecretFilter | None = None
    # Tests run background loops by hand; production starts them in cog_load.
    start_background_tasks: bool = True


def intents_for(settings: Settings) -> discord.Intents:
    # Only what the features use: guilds (channels, roles, threads), guild messages (welcome, FAQ),
    # reactions (review votes), DMs (digest replies). No members or presence intent.
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.dm_messages = True
    intents.message_content = settings.discord.message_content
    return intents


class EcoBot(commands.Bot):
    def __init__(self, deps: Deps, *, sync_on_start: bool = True, **options: Any) -> None:
        options.setdefault("chunk_guilds_at_startup", False)
        options.setdefault("member_cache_flags", discord.MemberCacheFlags.none())
        super().__init__(
            command_prefix=commands.when_mentioned,  # no text commands; slash commands only
            intents=intents_for(deps.settings),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.deps = deps
        self.settings = deps.settings
        self.eco_group = app_commands.Group(
            name="eco", description="Pallets community ecosystem (pallets-eco) helper", guild_only=True
        )
        self.tree.on_error = self._on_app_command_error
        self._tasks: set[asyncio.Task[Any]] = set()
        self._critical = 0
        self._no_critical = asyncio.Event()
        self._no_critical.set()
        self.sync_on_start = sync_on_start
        # The newcomer listener, called from on_message below: one task per message instead of two.
        self.message_handler: Callable[[discord.Message], Awaitable[None]] | None = None
        # Cheap synchronous observers of the same messages (the maintainers' digest notes questions).
        self.message_observers: list[Callable[[discord.Message], None]] = []
        self.synced_on_start: bool | None = None

    # ----- start-up -------------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        self.tree.add_command(self.eco_group)
        for name in extension_names():
            await self.load_extension(name)
        if self.sync_on_start:
            self.synced_on_start = await self.sync_commands(force=False)
        if self.deps.start_background_tasks:
            self.spawn(heartbeat.run(self.deps.db, self.settings.database.heartbeat_seconds), name="heartbeat")

    def guild_object(self) -> discord.Object:
        return discord.Object(id=self.settings.discord.guild_id)

    def command_payload(self) -> list[dict[str, Any]]:
        guild = self.guild_object()
        self.tree.copy_global_to(guild=guild)
        return [cmd.to_dict(self.tree) for cmd in self.tree.get_commands(guild=guild)]

    async def sync_commands(self, *, force: bool) -> bool:
        """Sync the guild's command tree when its payload changed (hash kept in the database)."""
        payload = self.command_payload()
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"{TREE_HASH_KEY}:{self.settings.discord.guild_id}"
        async with self.deps.db() as session:
            row = await session.get(BotState, key)
            if not force and row is not None and row.value == digest:
                log.info("command tree unchanged; not syncing")
                return False
            await self.tree.sync(guild=self.guild_object())
            if row is None:
                session.add(BotState(key=key, value=digest))
            else:
                row.value = digest
            await session.commit()
        log.info("command tree synced (%d commands)", len(payload))
        return True

    async def on_message(self, message: discord.Message, /) -> None:
        # No text commands: the default would parse "@bot how do I ..." as a command and log errors.
        # discord.py runs every message listener as its own task; the one feature that reads messages
        # is called from here instead, so a busy channel costs one task per message, not two.
        # Only ordinary messages and replies: member-join, pin and thread-created notices are system
        # messages that nobody wrote, and Discord refuses a reply to them.
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        for observe in self.message_observers:
            try:
                observe(message)
            except Exception:
                log.exception("message observer %s failed", getattr(observe, "__qualname__", observe))
        if self.message_handler is not None:
            await self.message_handler(message)

    # ----- helpers for cogs -----------------------------------------------------------------------

    def is_maintainer(self, member: discord.abc.User | discord.Member | None) -> bool:
        roles = getattr(member, "roles", None)
        if not roles:
            return False
        wanted = set(self.settings.discord.maintainer_role_ids)
        return any(role.id in wanted for role in roles)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run a background coroutine whose failure is logged, and which is cancelled on close."""

        async def runner() -> Any:
            try:
                return await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed", name)
                return None

        task = asyncio.get_running_loop().create_task(runner(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before it ever ran leaves `coro` un-awaited: close it quietly.
        task.add_done_callback(lambda t: coro.close() if t.cancelled() else None)
        return task

    @contextlib.asynccontextmanager
    async def critical(self) -> AsyncIterator[None]:
        """A section (send a reply, then record it) that shutdown lets finish instead of cutting in half."""
        self._critical += 1
        self._no_critical.clear()
        try:
            yield
        finally:
            self._critical -= 1
            if not self._critical:
                self._no_critical.set()

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_critical.wait(), CRITICAL_GRACE_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3)
        if self.deps.start_background_tasks:
            try:  # `python -m bot health` then says "stopped" at once instead of waiting for the beat to age
                await heartbeat.beat(self.deps.db, stopped=True)
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.warning("could not record the stop in the heartbeat", exc_info=True)
        await super().close()
        # Event handlers and component callbacks still running get a moment to finish their unit of
        # work before the composition root disposes of the database under them.
        handlers = [
            t
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and t.get_name().startswith(("discord.py: on_", "discord-ui-"))
        ]
        if handlers:
            await asyncio.wait(handlers, timeout=HANDLER_GRACE_SECONDS)

    # ----- errors ---------------------------------------------------------------------------------

    async def _on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.CheckFailure) and not isinstance(original, DomainError):
            await self.report_error(interaction, DomainError("You can't use this command here."))
            return
        await self.report_error(interaction, original)

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """The single place where failures become what the user sees."""
        if isinstance(error, DomainError):
            text = error.message
        else:
            error_id = secrets.token_hex(4)
            command = interaction.command.qualified_name if interaction.command else None
            custom_id = (interaction.data or {}).get("custom_id") if interaction.data else None
            log.error(
                "error %s in interaction (command=%s custom_id=%s user=%s guild=%s)",
                error_id,
                command,
                custom_id,
                interaction.user.id if interaction.user else None,
                interaction.guild_id,
                exc_info=(type(error), error, error.__traceback__),
            )
            text = f"Sorry, something went wrong on my side. It has been logged (error id `{error_id}`)."
        # Messages may list user data (e.g. every open request): over Discord's 2,000 characters the
        # error itself would fail, so every text is fitted here, whatever raised it.
        text = fit_message(text)
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True)
            elif await _still_loading(interaction):
                # After a deferral the first answer edits the loading message (a followup is deprecated).
                await interaction.edit_original_response(content=text, embed=None, view=None)
            else:
                await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell user %s about an error", interaction.user.id)


async def _still_loading(interaction: discord.Interaction) -> bool:
    """Whether the interaction was deferred with "thinking" and nothing has answered it yet."""
    if interaction.response.type is not discord.InteractionResponseType.deferred_channel_message:
        return False
    try:
        original = await interaction.original_response()
    except discord.HTTPException:
        return False
    return original.flags.loading


def extension_names() -> list[str]:
    """Every module or package in cogs/ whose name does not start with an underscore."""
    names = []
    for module in pkgutil.iter_modules(cogs.__path__):
        if module.name.startswith("_"):
            continue
        name = f"cogs.{module.name}"
        if hasattr(importlib.import_module(name), "setup"):
            names.append(name)
    return sorted(names)
