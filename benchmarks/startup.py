"""Time from process start to commands usable, and no command sync on a restart.

"Usable" is what a member sees: the first `/eco about` acknowledged. From the moment the process is
created the fake Discord waits for the bot's IDENTIFY, then offers `/eco about` every 50 ms until one
is acknowledged. The real bot runs with production settings: migrations on a fresh database for the
first start, the same database on restart (where the command tree is unchanged, so it must not sync).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import Row, Table, median
from benchmarks.world import START_TIMEOUT, BenchWorld

OFFER_EVERY = 0.05


@dataclass
class StartupRuns:
    first: list[float] = field(default_factory=list)
    restart: list[float] = field(default_factory=list)
    sync_on_first: list[int] = field(default_factory=list)
    sync_on_restart: list[int] = field(default_factory=list)


async def time_to_usable(world: BenchWorld, kind: str, db_file: Path) -> tuple[float, int]:
    """(seconds from process creation to the first acknowledged /eco about, sync calls meanwhile)."""
    fake = world.discord
    identified, syncs = fake.identify_count, fake.sync_calls
    loop = asyncio.get_running_loop()
    proc = await world.spawn(kind, db_file)
    try:
        deadline = proc.started_at + START_TIMEOUT
        offered = []
        while True:
            acked = [i for i in offered if i.callbacks]
            if acked:
                first = min(i.dispatched_at + i.ack_latency for i in acked)
                return first - proc.started_at, fake.sync_calls - syncs
            if loop.time() > deadline:
                raise TimeoutError(f"{kind}: /eco about not answered within {START_TIMEOUT} s of start")
            if proc.proc is not None and proc.proc.returncode is not None:
                raise RuntimeError(f"{kind} bot exited with {proc.proc.returncode} before answering")
            if fake.identify_count > identified and fake._conn is not None:
                offered.append(await world.slash(world.USER, "eco about"))
            await asyncio.sleep(OFFER_EVERY)
    finally:
        await proc.stop()


async def run_startup(worlds: dict[str, BenchWorld], table: Table, repeats: int, tmp: Path) -> None:
    runs = {kind: StartupRuns() for kind in worlds}
    for r in range(repeats):
        for kind, world in worlds.items():
            db_file = tmp / f"startup-{kind}-{r}.db"  # fresh: the first start migrates and syncs
            seconds, syncs = await time_to_usable(world, kind, db_file)
            runs[kind].first.append(seconds)
            runs[kind].sync_on_first.append(syncs)
            seconds, syncs = await time_to_usable(world, kind, db_file)
            runs[kind].restart.append(seconds)
            runs[kind].sync_on_restart.append(syncs)
    ours, bare = runs["ours"], runs["bare"]
    section = f"Start-up (median of {repeats})"
    table.add(Row(section, "process start → first /eco about answered (fresh database)", median(ours.first),
                  median(bare.first), "s", "migrations + first command sync", digits=2))
    table.add(Row(section, "process start → first /eco about answered (restart)", median(ours.restart),
                  median(bare.restart), "s", "same database", digits=2))
    table.add(Row(section, "command sync calls on first start", float(sum(ours.sync_on_first)),
                  float(sum(bare.sync_on_first)), "", f"total over {repeats} starts; bare never syncs", digits=0))
    restarts = sum(ours.sync_on_restart)
    table.add(Row(section, "command sync calls on restart (unchanged tree)", float(restarts),
                  float(sum(bare.sync_on_restart)), "", "OK: none" if restarts == 0 else "EXPECTED 0", digits=0))
