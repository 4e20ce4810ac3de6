"""Time the newcomer listener's per-message work: the FAQ cog's `_incoming` (discord.Message to
IncomingMessage) plus `NewcomerService.consider`, for ordinary chat from already-welcomed members.

The real bot runs against the loopback fake Discord (tests/harness.py) so the messages are genuine
discord.py objects built by the bot's own connection state. Nothing is sent: the listener's decision
is what is timed, not the replies (there are none for chat).

Run: .venv/bin/python benchmarks/listener_cost.py [--lines 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402

from benchmarks.faq_matcher import synthetic_lines  # noqa: E402
from tests.harness import Harness  # noqa: E402

USERS = 50


def labelled_chat() -> list[str]:
    with (ROOT / "tests" / "data" / "faq_labelled.toml").open("rb") as fh:
        return [m["text"] for m in tomllib.load(fh)["message"] if not m["topic"]]


def build_messages(h: Harness, lines: list[str], users: list[int], *, content: bool) -> list[discord.Message]:
    """discord.Message objects exactly as the bot would build them from MESSAGE_CREATE."""
    fake, bot = h.discord, h.bot
    channel = fake.channels[h.ECO_CHANNEL]
    target = bot.get_channel(h.ECO_CHANNEL)
    messages = []
    for n, line in enumerate(lines):
        author = users[n % len(users)]
        stored = fake.store_message(channel, fake.users[author], {"content": line}, dispatch=False)
        data = stored.payload(fake.bot_user.id)
        data["member"] = fake.guilds[h.GUILD].members[author].payload(with_user=False)
        if not content:
            data["content"] = ""  # what the bot receives without the message-content intent
        messages.append(discord.Message(state=bot._connection, channel=target, data=data))
    return messages


def measure(cog, messages: list[discord.Message], rounds: int) -> tuple[list[float], int]:
    """Per-message µs (best of `rounds`, to drop scheduler noise) and how many would make the bot speak."""
    clock = time.perf_counter_ns
    timings, speaking = [], 0
    for message in messages:
        best = None
        for _ in range(rounds):
            start = clock()
            incoming = cog._incoming(message)
            decision = cog.service.consider(incoming)
            elapsed = clock() - start
            best = elapsed if best is None or elapsed < best else best
        speaking += decision.speaks
        timings.append(best / 1000)
    return timings, speaking


async def run(lines: int, seed: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h = await Harness.create(Path(tmp), discord={"message_content": True})
        logging.getLogger().setLevel(logging.WARNING)
        try:
            cog = h.bot.get_cog("Faq")
            users = [900_000_000_000_500_000 + i for i in range(USERS)]
            h.discord.add_members(h.GUILD, [(u, f"bench-{u}") for u in users])
            # Welcome everyone first (and lift the raid cap): steady-state chat is what is timed.
            for u in users:
                h.clock.advance(minutes=2)
                cog.service.consider(cog._incoming(build_messages(h, ["hi"], [u], content=False)[0]))
            chat = labelled_chat()
            datasets = (
                ("labelled chat", chat, True),
                ("synthetic chat", synthetic_lines(lines, seed), True),
                ("no content intent", synthetic_lines(lines, seed), False),
            )
            print(f"{'dataset':<20}{'messages':>9}{'speaks':>8}{'median µs':>11}{'p95 µs':>9}{'max µs':>9}")
            for name, texts, content in datasets:
                timings, speaking = measure(cog, build_messages(h, texts, users, content=content), rounds)
                p95 = statistics.quantiles(timings, n=20)[-1]
                print(
                    f"{name:<20}{len(texts):>9}{speaking:>8}{statistics.median(timings):>11.1f}"
                    f"{p95:>9.1f}{max(timings):>9.1f}"
                )
        finally:
            await h.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.lines, args.seed, args.rounds))


if __name__ == "__main__":
    main()
