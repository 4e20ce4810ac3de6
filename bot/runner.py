"""Composition root: build every dependency, run the bot, release everything in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

import aiohttp
import discord
import yarl

from bot.app import Deps, EcoBot
from bot.clock import Clock
from bot.config import Settings
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.github import GitHubClient
from bot.logging_setup import SecretFilter
from bot.pypi import PyPIClient

log = logging.getLogger(__name__)

USER_AGENT = "pallets-eco-bot (+https://github.com/pallets-eco)"


def point_discord_at(settings: Settings) -> None:
    """Self-hosted/test gateways only: production leaves `discord.api_base`/`gateway_url` unset."""
    if settings.discord.api_base:
        discord.http.Route.BASE = settings.discord.api_base.rstrip("/")
    if settings.discord.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord.gateway_url)


@contextlib.asynccontextmanager
async def build_deps(
    settings: Settings,
    *,
    clock: Clock | None = None,
    secret_filter: SecretFilter | None = None,
    start_background_tasks: bool = True,
    migrate_in_child: bool | None = None,
) -> AsyncIterator[Deps]:
    """Raises migrate.MigrationError when the database can't be brought up to date.

    `migrate_in_child` (default: only for the long-running bot, i.e. with background tasks) runs
    the migration in a child process so Alembic's ~13 MiB never stay resident. Short-lived
    commands and tests migrate in process: they would only pay the child's start-up time.
    """
    if migrate_in_child is None:
        migrate_in_child = start_background_tasks
    engine = create_engine(settings.database.url)
    try:
        if not migrate_in_child:
            await migrate.upgrade(engine)
        elif not await migrate.is_up_to_date(engine):
            await engine.dispose()  # no pooled connection open while the schema changes
            await migrate.upgrade_in_child(settings.database.url)
        timeout = aiohttp.ClientTimeout(total=max(settings.github.timeout_seconds, settings.pypi.timeout_seconds))
        async with aiohttp.ClientSession(timeout=timeout) as http:
            yield Deps(
                settings=settings,
                db=create_session_factory(engine),
                http=http,
                github=GitHubClient(
                    http,
                    api_url=settings.github.api_url,
                    web_url=settings.github.web_url,
                    token=settings.secrets.github_token,
                    user_agent=USER_AGENT,
                    timeout=settings.github.timeout_seconds,
                ),
                pypi=PyPIClient(
                    http, url=settings.pypi.url, user_agent=USER_AGENT, timeout=settings.pypi.timeout_seconds
                ),
                clock=clock or Clock(),
                secret_filter=secret_filter,
                start_background_tasks=start_background_tasks,
            )
    finally:
        await engine.dispose()


async def run_bot(settings: Settings, secret_filter: SecretFilter | None = None) -> int:
    point_discord_at(settings)
    try:
        async with build_deps(settings, secret_filter=secret_filter) as deps:
            code = await _serve(EcoBot(deps), settings)
    except migrate.MigrationError as exc:
        log.error("database migration failed, not starting: %s", exc)
        return 2
    if code == 0:
        log.info("stopped")
    return code


async def _serve(bot: EcoBot, settings: Settings) -> int:
    """Run until SIGINT/SIGTERM; 2 when Discord rejects the token, 3 when it refuses a privileged intent."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def request_stop(signame: str) -> None:
        if not stopping.is_set():
            log.info("received %s, shutting down", signame)
            stopping.set()
            loop.create_task(bot.close())

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        async with bot:
            await start_with_backoff(bot, settings.secrets.discord_token, stopping)
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_TOKEN: check the bot token")
        return 2
    except discord.PrivilegedIntentsRequired:
        # Gateway close 4014. The only privileged intent the bot can ask for is Message Content.
        log.error(
            "Discord refused the Message Content intent (gateway close 4014): turn on \"Message Content Intent\" "
            "in the Developer Portal (Bot > Privileged Gateway Intents), or set discord.message_content = false"
        )
        return 3
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def start_with_backoff(bot: EcoBot, token: str, stopping: asyncio.Event) -> None:
    """`bot.start` with a growing pause between crashes: Discord allows 1,000 logins a day."""
    delay = 5.0
    while not stopping.is_set():
        try:
            await bot.start(token)
            return
        except (discord.LoginFailure, discord.PrivilegedIntentsRequired):
            raise
        except (OSError, discord.GatewayNotFound, discord.ConnectionClosed, discord.HTTPException) as exc:
            if stopping.is_set() or bot.is_closed():
                return
            log.warning("connection to Discord failed (%s); retrying in %.0f s", type(exc).__name__, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, 300)
