"""One bot process under measurement: `python -m benchmarks.child CONFIG.json`.

Runs either the real bot (`kind: "ours"`, built exactly like `bot.runner.run_bot` does) or the bare
baseline (`kind: "bare"`) against the fakes the parent process serves on 127.0.0.1. Each bot lives in
its own process so its resident memory and CPU time are its own.

The parent talks to it through a small loopback HTTP endpoint whose port is the first stdout line:
GET /stats answers how many MESSAGE_CREATE events were parsed and whether their listeners finished.
SIGTERM stops the bot cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
import psutil
import yarl
from aiohttp import web

MESSAGE_TASK = "discord.py: on_message"


class Stats:
    def __init__(self) -> None:
        self.messages = 0

    def wrap(self, client: discord.Client) -> None:
        """Count MESSAGE_CREATE events as discord.py parses them (no extra listener, no extra task)."""
        parsers: dict[str, Callable[[Any], None]] = client._connection.parsers
        original = parsers["MESSAGE_CREATE"]

        def counted(data: Any) -> None:
            original(data)
            self.messages += 1

        parsers["MESSAGE_CREATE"] = counted


def busy_tasks(client: discord.Client) -> int:
    """Listener tasks still working on messages, plus the real bot's own spawned work."""
    running = sum(1 for t in asyncio.all_tasks() if not t.done() and t.get_name() == MESSAGE_TASK)
    return running + len(getattr(client, "_tasks", ()))


async def serve_control(client: discord.Client, stats: Stats) -> web.AppRunner:
    proc = psutil.Process()

    async def handle_stats(request: web.Request) -> web.Response:
        return web.json_response({
            "messages": stats.messages,
            "busy": busy_tasks(client),
            "ready": client.is_ready(),
            "process_time": time.process_time(),
            "rss": proc.memory_info().rss,
        })

    app = web.Application()
    app.router.add_get("/stats", handle_stats)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(json.dumps({"control_port": port}) + "\n")
    sys.stdout.flush()
    return runner


async def run_client(client: discord.Client, token: str) -> None:
    stats = Stats()
    stats.wrap(client)
    control = await serve_control(client, stats)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: loop.create_task(client.close()))
    try:
        async with client:
            await client.start(token)
    finally:
        await control.cleanup()


async def run_ours(config: dict[str, Any]) -> None:
    from bot.app import EcoBot
    from bot.config import parse_settings
    from bot.logging_setup import configure_logging
    from bot.runner import build_deps, point_discord_at

    settings = parse_settings(config["raw"], config["env"])
    secret_filter = configure_logging(settings.logging.level, settings.secrets.all_values())
    point_discord_at(settings)
    async with build_deps(settings, secret_filter=secret_filter) as deps:
        await run_client(EcoBot(deps), settings.secrets.discord_token)


async def run_bare(config: dict[str, Any]) -> None:
    from benchmarks.bare_bot import BareBot

    discord.http.Route.BASE = config["raw"]["discord"]["api_base"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config["raw"]["discord"]["gateway_url"])
    await run_client(BareBot(), config["env"]["DISCORD_TOKEN"])


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text())
    runner = run_ours if config["kind"] == "ours" else run_bare
    profile = config.get("profile")  # benchmarks/profiling.py: cProfile the whole process, stats to this file
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner(config))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
