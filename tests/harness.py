"""Start the real EcoBot against the loopback fakes, and act on it the way users would.

    harness = await Harness.create(tmp_path)          # or the `harness` fixture
    interaction = await harness.slash(harness.USER, "eco about")
    await harness.restart()                           # same database and fakes, a new bot
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import logging
from pathlib import Path
from typing import Any

import discord
import yarl

from bot.app import EcoBot
from bot.clock import FakeClock
from bot.config import Settings, parse_settings
from bot.logging_setup import configure_logging
from bot.runner import build_deps
from tests.dburl import database_url
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord_world import Perm
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI

DISCORD_TOKEN = "fake-discord-token-0123456789"
GITHUB_TOKEN = "ghs_fakebottoken0123456789"


# What the README tells server owners to grant.
BOT_PERMISSIONS = (
    Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS | Perm.ADD_REACTIONS | Perm.MANAGE_MESSAGES
    | Perm.READ_MESSAGE_HISTORY | Perm.CREATE_PUBLIC_THREADS | Perm.CREATE_PRIVATE_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)


class TestEcoBot(EcoBot):
    async def before_identify_hook(self, shard_id, *, initial=False):
        # discord.py waits 5 s before re-identifying after an invalid session; tests need not.
        return None


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class Harness:
    GUILD = 900_000_000_000_000_001
    ECO_CHANNEL = 900_000_000_000_000_010
    REVIEW_CHANNEL = 900_000_000_000_000_011
    OTHER_CHANNEL = 900_000_000_000_000_012
    MAINTAINER_ROLE = 900_000_000_000_000_100
    MAINTAINER = 900_000_000_000_001_001
    MAINTAINER2 = 900_000_000_000_001_002
    USER = 900_000_000_000_002_001
    USER2 = 900_000_000_000_002_002
    CLOSED_DMS_USER = 900_000_000_000_002_003

    guild_id = GUILD
    eco_channel_id = ECO_CHANNEL
    review_channel_id = REVIEW_CHANNEL
    maintainer_role_id = MAINTAINER_ROLE

    def __init__(self, tmp_path: Path, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None):
        self.tmp_path = tmp_path
        self.database_url = database_url(tmp_path)  # SQLite file, or PostgreSQL with ECO_TEST_DATABASE=postgres
        self.overrides = overrides or {}
        self.env_extra = env or {}
        self.discord = FakeDiscord(token=DISCORD_TOKEN)
        self.github = FakeGitHub()
        self.pypi = FakePyPI()
        self.clock = FakeClock()
        self.discord.clock = self.clock.now  # interaction tokens expire on the clock the test moves
        self.log_stream = io.StringIO()
        self.bot: EcoBot | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._runner: asyncio.Task[None] | None = None
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self.settings: Settings

    @classmethod
    async def create(cls, tmp_path: Path, **overrides: Any) -> Harness:
        env = overrides.pop("env", None)
        harness = cls(tmp_path, overrides, env)
        await harness.start()
        return harness

    # ----- world ----------------------------------------------------------------------------------

    def _build_world(self) -> None:
        d = self.discord
        d.add_guild(self.GUILD, "Pallets")
        d.add_role(self.GUILD, self.MAINTAINER_ROLE, "Maintainers")
        d.add_channel(self.GUILD, self.ECO_CHANNEL, "pallets-eco")
        d.add_channel(self.GUILD, self.REVIEW_CHANNEL, "eco-review")
        d.add_channel(self.GUILD, self.OTHER_CHANNEL, "general")
        d.add_member(self.GUILD, self.MAINTAINER, "maint-one", roles=(self.MAINTAINER_ROLE,))
        d.add_member(self.GUILD, self.MAINTAINER2, "maint-two", roles=(self.MAINTAINER_ROLE,))
        d.add_member(self.GUILD, self.USER, "newcomer")
        d.add_member(self.GUILD, self.USER2, "someone-else")
        d.add_member(self.GUILD, self.CLOSED_DMS_USER, "private-person", dms_closed=True)
        d.set_bot_permissions(self.GUILD, BOT_PERMISSIONS)

    def _settings(self) -> Settings:
        raw = {
            "discord": {
                "guild_id": self.GUILD,
                "eco_channel_id": self.ECO_CHANNEL,
                "review_channel_id": self.REVIEW_CHANNEL,
                "maintainer_role_ids": [self.MAINTAINER_ROLE],
                "api_base": self.discord.api_base,
                "gateway_url": self.discord.gateway_url,
            },
            # Per-user cooldowns off (the fake clock stands still): tests/resilience/test_abuse.py turns them on.
            "github": {"api_url": self.github.api_url, "web_url": self.github.web_url, "timeout_seconds": 3.0,
                       "sign_in_cooldown_seconds": 0.0},
            "review": {"submit_cooldown_seconds": 0.0},
            "pypi": {"url": self.pypi.url, "timeout_seconds": 3.0},
            "database": {"url": self.database_url},
            "faq": {"reply_delay_seconds": 0.0},
        }
        env = {"DISCORD_TOKEN": DISCORD_TOKEN, "GITHUB_TOKEN": GITHUB_TOKEN, **self.env_extra}
        return parse_settings(_merge(raw, self.overrides), env)

    # ----- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.discord.start()
        await self.github.start()
        await self.pypi.start()
        self.github.bot_token = GITHUB_TOKEN
        self._build_world()
        self._saved_urls = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        self.settings = self._settings()
        self.secret_filter = configure_logging("INFO", self.settings.secrets.all_values(), stream=self.log_stream)
        await self.start_bot()

    async def start_bot(self) -> EcoBot:
        from bot.runner import point_discord_at

        point_discord_at(self.settings)
        self._stack = contextlib.AsyncExitStack()
        deps = await self._stack.enter_async_context(
            build_deps(self.settings, clock=self.clock, secret_filter=self.secret_filter, start_background_tasks=False)
        )
        bot = TestEcoBot(deps, guild_ready_timeout=0.05)
        self.bot = bot
        await bot.login(self.settings.secrets.discord_token)
        self._runner = asyncio.create_task(bot.connect(reconnect=True), name="eco-bot")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._runner}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self._runner in done:
            ready.cancel()
            self._runner.result()  # raises what went wrong
            raise RuntimeError("the bot stopped before it was ready")
        if ready not in done:
            ready.cancel()
            raise TimeoutError("the bot did not become ready")
        return bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._runner, 5)
        if self._stack is not None:
            await self._stack.aclose()
        self.bot, self._runner, self._stack = None, None, None

    async def restart(self) -> EcoBot:
        await self.stop_bot()
        return await self.start_bot()

    async def close(self) -> None:
        try:
            await self.stop_bot()
        finally:
            await self.discord.close()
            await self.github.close()
            await self.pypi.close()
            if self._saved_urls is not None:
                discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_urls
            root = logging.getLogger()
            for handler in list(root.handlers):
                if getattr(handler, "_eco_bot", False):
                    root.removeHandler(handler)

    # ----- acting ---------------------------------------------------------------------------------

    def db(self):
        assert self.bot is not None
        return self.bot.deps.db()

    async def slash(self, user_id: int, command: str, channel_id: int | None = None, **options: Any):
        return await self.discord.slash(
            user_id, command, options=options, channel_id=channel_id or self.ECO_CHANNEL, guild_id=self.GUILD
        )

    @property
    def logs(self) -> str:
        return self.log_stream.getvalue()
