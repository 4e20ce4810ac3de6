"""The benchmark world: the project's loopback fakes (in this process) and bot processes under test.

`BenchWorld` is the test harness's world (same guild, channels, roles and users) plus a guild of many
members, with the bot started in a child process (`benchmarks.child`) rather than in-process, so its
memory and CPU are measured on their own. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from sqlalchemy import insert

from bot.db import migrate
from bot.db.engine import create_engine
from bot.db.models.faq import WelcomedMember
from tests.harness import DISCORD_TOKEN, GITHUB_TOKEN, Harness

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRST_MEMBER = 910_000_000_000_000_000  # ids of the bulk members: FIRST_MEMBER + i
ORG = "pallets-eco"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def member_id(i: int) -> int:
    return FIRST_MEMBER + i


class BenchWorld(Harness):
    """Harness fakes and world, without the in-process bot: bots run as `BotProcess`es."""

    def __init__(self, tmp_path: Path, members: int = 10_000) -> None:
        super().__init__(tmp_path)
        self.member_count = members
        self.processes: list[BotProcess] = []

    async def start_bot(self):  # type: ignore[override]
        return None  # bots are started as child processes by `spawn`

    async def stop_bot(self) -> None:
        for proc in list(self.processes):
            await proc.stop()

    def _build_world(self) -> None:
        super()._build_world()
        self.discord.add_members(
            self.GUILD, [(member_id(i), f"member{i}") for i in range(self.member_count)]
        )
        self._build_github()

    def _build_github(self) -> None:
        # A small org with beginner issues so `/eco contribute` has something to suggest.
        gh = self.github
        gh.add_org(ORG)
        for r in range(4):
            name = f"{ORG}/flask-thing{r}"
            gh.add_repo(name, owner_type="Organization", readme="# Thing\n")
            for i in range(5):
                gh.add_issue(name, f"Improve docs section {i}", labels=["good first issue", "docs"])

    def raw_config(self, db_file: Path) -> dict[str, Any]:
        """Production defaults, except the addresses of the fakes and the database file."""
        return {
            "discord": {
                "guild_id": self.GUILD,
                "eco_channel_id": self.ECO_CHANNEL,
                "review_channel_id": self.REVIEW_CHANNEL,
                "maintainer_role_ids": [self.MAINTAINER_ROLE],
                "api_base": self.discord.api_base,
                "gateway_url": self.discord.gateway_url,
            },
            "github": {"api_url": self.github.api_url, "web_url": self.github.web_url},
            "pypi": {"url": self.pypi.url},
            "database": {"url": f"sqlite+aiosqlite:///{db_file}"},
        }

    async def prepare_database(self, db_file: Path, welcomed: int) -> None:
        """Migrate, and mark the first `welcomed` bulk members as already welcomed (regulars)."""
        engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
        try:
            await migrate.upgrade(engine)
            if welcomed:
                now = self.clock.now()
                rows = [
                    {"guild_id": self.GUILD, "user_id": member_id(i), "welcomed_at": now} for i in range(welcomed)
                ]
                async with engine.begin() as conn:
                    await conn.execute(insert(WelcomedMember), rows)
        finally:
            await engine.dispose()

    async def spawn(self, kind: str, db_file: Path, profile: Path | None = None) -> BotProcess:
        config = {
            "kind": kind,
            "profile": str(profile) if profile else None,
            "raw": self.raw_config(db_file),
            "env": {"DISCORD_TOKEN": DISCORD_TOKEN, "GITHUB_TOKEN": GITHUB_TOKEN},
        }
        proc = BotProcess(kind, config, self.tmp_path)
        await proc.start()
        self.processes.append(proc)
        proc.on_stop = self.processes.remove
        return proc


@dataclass
class ChildStats:
    messages: int
    busy: int
    ready: bool
    process_time: float
    rss: int


class BotProcess:
    """A bot in a child process, with its control endpoint."""

    def __init__(self, kind: str, config: dict[str, Any], tmp_path: Path) -> None:
        self.kind = kind
        self.config = config
        self.tmp_path = tmp_path
        self.proc: asyncio.subprocess.Process | None = None
        self.control_port = 0
        self.started_at = 0.0  # event-loop time just before the process was created
        self.session: aiohttp.ClientSession | None = None
        self.on_stop = None

    async def start(self) -> None:
        n = len(list(self.tmp_path.glob(f"{self.kind}-*.json")))
        config_file = self.tmp_path / f"{self.kind}-{n}.json"
        config_file.write_text(json.dumps(self.config))
        # The child inherits the descriptor; ours is closed as soon as the process exists.
        log_file = (self.tmp_path / f"{self.kind}-{n}.log").open("wb")  # noqa: ASYNC230 - local file, once
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.started_at = asyncio.get_running_loop().time()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.child", str(config_file),
            cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=log_file,
        )
        log_file.close()
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT)
        if not line:
            raise RuntimeError(f"{self.kind} bot exited at start; see {self.tmp_path}/{self.kind}-{n}.log")
        self.control_port = json.loads(line)["control_port"]
        self.session = aiohttp.ClientSession()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stats(self) -> ChildStats:
        assert self.session is not None
        async with self.session.get(f"http://127.0.0.1:{self.control_port}/stats") as resp:
            return ChildStats(**await resp.json())

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not (await self.stats()).ready:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} bot not ready within {timeout} s")
            await asyncio.sleep(0.05)

    async def wait_processed(self, expected: int, timeout: float, poll: float = 0.02) -> ChildStats:
        """Wait until the bot parsed `expected` messages in total and no listener is still running."""
        deadline = time.monotonic() + timeout
        while True:
            stats = await self.stats()
            if stats.messages >= expected and stats.busy == 0:
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind}: {stats.messages}/{expected} messages, {stats.busy} busy")
            await asyncio.sleep(poll)

    def rss(self) -> int:
        return psutil.Process(self.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.on_stop is not None:
            self.on_stop(self)
            self.on_stop = None


@contextlib.asynccontextmanager
async def bench_world(tmp_path: Path, members: int = 10_000):
    world = BenchWorld(tmp_path, members)
    await world.start()
    try:
        yield world
    finally:
        await world.close()
