"""Start-up order (issue 18): the long-running bot connects to the gateway and answers its first commands
before the offline catch-ups and the first passes of its background loops run; those still run, a moment
(app.BACKGROUND_GRACE_SECONDS) after READY."""

from __future__ import annotations

import asyncio
import contextlib

from bot import app
from bot.runner import build_deps, point_discord_at
from bot.services.transfers import TransferService
from tests.harness import TestEcoBot as BotForTests
from tests.resilience._support import wait_for


async def test_background_work_waits_for_ready_and_the_first_commands(make_harness, monkeypatch):
    h = await make_harness()
    await h.stop_bot()
    monkeypatch.setattr(app, "BACKGROUND_GRACE_SECONDS", 0.3)
    seen: list[tuple[str, bool, float]] = []
    loop = asyncio.get_running_loop()
    ready_at: list[float] = []
    original_expire = TransferService.expire_stale_drafts

    async def expire(self, *args, **kwargs):  # the first thing the transfer cog's retry loop does
        seen.append(("retry pass", bot.is_ready(), loop.time()))
        return await original_expire(self, *args, **kwargs)

    monkeypatch.setattr(TransferService, "expire_stale_drafts", expire)
    point_discord_at(h.settings)
    async with contextlib.AsyncExitStack() as stack:
        deps = await stack.enter_async_context(
            build_deps(h.settings, clock=h.clock, start_background_tasks=True, migrate_in_child=False)
        )
        bot = BotForTests(deps, guild_ready_timeout=0.05)

        async def on_ready() -> None:
            ready_at.append(loop.time())

        bot.add_listener(on_ready, "on_ready")
        await bot.login(h.settings.secrets.discord_token)
        runner = asyncio.create_task(bot.connect(reconnect=True))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 15)
            review = bot.get_cog("Review")
            catch_ups: list[float] = []
            original_catch_up = review.catch_up

            async def catch_up() -> None:
                catch_ups.append(loop.time())
                await original_catch_up()

            review.catch_up = catch_up  # spawned from on_ready: still waiting out the grace now
            # A command right after READY is answered while the catch-up and loop passes wait.
            interaction = await h.slash(h.USER, "eco about")
            await wait_for(lambda: interaction.callbacks, what="/eco about answered")
            answered = loop.time()
            await wait_for(lambda: seen and catch_ups, timeout=5, what="retry pass and catch-up ran")
            assert seen[0][1] is True, "the retry loop's first pass ran before the gateway was ready"
            assert seen[0][2] >= ready_at[0] + 0.3 - 0.05 and catch_ups[0] >= ready_at[0] + 0.3 - 0.05
            assert answered <= min(seen[0][2], catch_ups[0])
        finally:
            await bot.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner, 5)
