"""Message-listener throughput, CPU per message and resident memory, in a guild of 10,000 members.

Each repeat starts a fresh bot process, reads its RSS once it is ready, sends a warm-up batch, then
sends `messages` ordinary chat messages into the eco channel as fast as the fake Discord can, and waits
until the bot has parsed all of them and no `on_message` listener is still running. Throughput is
messages / wall time; CPU per message is the bot process's user+system CPU time / messages (the
polling of its control endpoint is included, identically for both bots).

"Ordinary chat" means regulars (already welcomed) talking about things the FAQ does not answer: the
real bot reads every message but stays silent, which is what it does almost all of the time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Row, Table, median
from benchmarks.world import BenchWorld, BotProcess, member_id
from bot.services.faq import load_faq
from bot.services.newcomers import SHIPPED_FAQ

CHATTER = [
    "morning all",
    "just pushed the fix, CI is green now",
    "has anyone tried the new release of the docs theme?",
    "lol that stack trace is enormous",
    "I'll review the PR after lunch",
    "thanks, that worked!",
    "the meetup next week is moved to Thursday",
    "nice, congrats on the release 🎉",
    "I'm seeing a flaky test on windows again",
    "which editor do you all use for jinja templates?",
    "brb",
    "that benchmark graph looks great",
    "we should write a blog post about the sprint",
    "ok merged",
    "can someone look at my comment on the RFC thread",
    "weekend plans: finally fixing my bike",
    "the type hints in that module are really nice now",
    "happy friday everyone",
    "oops, wrong channel",
    "I think the changelog entry is missing a link",
]
SEND_BATCH = 500  # messages queued before yielding to the fake's gateway writer
WARMUP = 200


def ordinary_lines() -> list[str]:
    """The chatter lines the shipped FAQ does not answer (so the bot stays silent, as it should)."""
    book = load_faq(SHIPPED_FAQ)
    lines = [line for line in CHATTER if book.match(line) is None]
    if len(lines) < len(CHATTER) // 2:
        raise RuntimeError("most chatter lines match an FAQ topic: update benchmarks/listener.py")
    return lines


@dataclass
class ListenerRun:
    rss_start: int
    rss_after: int
    messages: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_busy(self) -> float:
        """Share of the wall time the bot spent on CPU: near 100% means the bot, not the sender, limits."""
        return self.cpu_seconds / self.seconds

    @property
    def cpu_per_message_us(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


@dataclass
class ListenerConfig:
    messages: int = 10_000  # in total, the warm-up batch included
    repeats: int = 3
    settle_seconds: float = 1.0


async def send_chatter(world: BenchWorld, count: int, offset: int, lines: list[str]) -> None:
    channel = world.discord.channels[world.ECO_CHANNEL]
    users = world.member_count
    for start in range(0, count, SEND_BATCH):
        for i in range(start, min(count, start + SEND_BATCH)):
            n = offset + i
            author = world.discord.users[member_id(n % users)]
            world.discord.store_message(channel, author, {"content": lines[n % len(lines)]})
        await asyncio.sleep(0)


async def listener_run(world: BenchWorld, kind: str, db_file: Path, config: ListenerConfig,
                       lines: list[str]) -> ListenerRun:
    if kind == "ours":
        await world.prepare_database(db_file, welcomed=world.member_count)
    proc: BotProcess = await world.spawn(kind, db_file)
    try:
        await proc.wait_ready()
        await asyncio.sleep(config.settle_seconds)
        rss_start = proc.rss()
        await send_chatter(world, WARMUP, 0, lines)
        await proc.wait_processed(WARMUP, timeout=60)
        cpu0, t0 = proc.cpu_seconds(), time.monotonic()
        measured = config.messages - WARMUP
        await send_chatter(world, measured, WARMUP, lines)
        await proc.wait_processed(config.messages, timeout=max(60.0, config.messages / 100))
        seconds, cpu = time.monotonic() - t0, proc.cpu_seconds() - cpu0
        return ListenerRun(rss_start, proc.rss(), measured, seconds, cpu)
    finally:
        await proc.stop()


async def run_listener(worlds: dict[str, BenchWorld], table: Table, config: ListenerConfig, tmp: Path) -> None:
    lines = ordinary_lines()
    runs: dict[str, list[ListenerRun]] = {"ours": [], "bare": []}
    for r in range(config.repeats):
        for kind, world in worlds.items():
            runs[kind].append(await listener_run(world, kind, tmp / f"listener-{kind}-{r}.db", config, lines))
    ours, bare = runs["ours"], runs["bare"]
    n = config.messages - WARMUP
    members = worlds["ours"].member_count
    section = f"Message listener and memory (guild of {members:,} members, median of {config.repeats})"
    table.add(Row(section, "chat messages processed per second", median(r.per_second for r in ours),
                  median(r.per_second for r in bare), "msg/s",
                  f"{n:,} messages per run; bot CPU busy {median(r.cpu_busy for r in ours):.0%} / "
                  f"{median(r.cpu_busy for r in bare):.0%} (below ~90%: the fake sender limits)", digits=0))
    table.add(Row(section, "CPU per message", median(r.cpu_per_message_us for r in ours),
                  median(r.cpu_per_message_us for r in bare), "µs", "bot process user+system CPU", digits=0))
    mb = 1024 * 1024
    table.add(Row(section, "resident memory after start", median(r.rss_start for r in ours) / mb,
                  median(r.rss_start for r in bare) / mb, "MiB", "ready, idle"))
    table.add(Row(section, f"resident memory after {config.messages:,} messages",
                  median(r.rss_after for r in ours) / mb, median(r.rss_after for r in bare) / mb,
                  "MiB", "psutil RSS of the bot process"))
