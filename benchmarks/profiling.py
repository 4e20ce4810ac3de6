"""Where a command's time goes in the real bot: cProfile inside the benchmark child.

    .venv/bin/python -m benchmarks.profiling status --users 50 --rounds 6 [--top 40] [--sort tottime]

Starts the real bot in its own process (benchmarks.child) under cProfile, runs `/eco <command>` for
`users` members at once, `rounds` times (after one warm-up), stops the bot and prints the profile's
top functions. `listener` sends ordinary chat messages instead; `idle` only starts and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import sys
import tempfile
from pathlib import Path

from benchmarks.ack import ack_round
from benchmarks.world import bench_world, member_id


async def profile(command: str, users: int, rounds: int, out: Path, tmp: Path) -> None:
    async with bench_world(tmp, members=max(users, 100)) as world:
        db_file = tmp / "profile.db"
        await world.prepare_database(db_file, welcomed=users)
        proc = await world.spawn("ours", db_file, profile=out)
        try:
            await proc.wait_ready()
            if command == "listener":
                channel = world.discord.channels[world.ECO_CHANNEL]
                for r in range(rounds):
                    for u in range(users):
                        author = world.discord.users[member_id(u)]
                        world.discord.store_message(channel, author, {"content": f"just chatting, release {r}.{u}"})
                    await asyncio.sleep(0)
                await proc.wait_processed(rounds * users, timeout=60)
            elif command != "idle":
                await ack_round(world, command, 1, settle=True)
                for _ in range(rounds):
                    await ack_round(world, command, users, settle=True)
        finally:
            await proc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__.splitlines()[0])
    parser.add_argument("command", help="an /eco subcommand, 'listener' or 'idle'")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--out", type=Path, help="keep the raw cProfile stats here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eco-profile-") as tmp:
        out = args.out or Path(tmp) / "child.prof"
        asyncio.run(profile(args.command, args.users, args.rounds, out.resolve(), Path(tmp)))
        pstats.Stats(str(out)).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
