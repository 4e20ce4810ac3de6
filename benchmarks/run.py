"""Run every benchmark and print one Markdown table (also written to benchmarks/results/latest.md).

    .venv/bin/python -m benchmarks.run            # full run, about 7 minutes on 2 cores
    .venv/bin/python -m benchmarks.run --quick    # fewer samples and repeats, under 2 minutes
    .venv/bin/python -m benchmarks.run --only scale   # how cost grows, 1x vs 10x (about 7 minutes)

Everything runs against the project's loopback fakes (127.0.0.1 only). The real bot and the bare
baseline (benchmarks/bare_bot.py) each run in their own child process, on their own fake Discord,
and their runs alternate so that a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord  # noqa: E402

from benchmarks.ack import AckConfig, run_ack  # noqa: E402
from benchmarks.github_cost import run_github_cost  # noqa: E402
from benchmarks.listener import ListenerConfig, run_listener  # noqa: E402
from benchmarks.report import Row, Table  # noqa: E402
from benchmarks.scale import run_scale  # noqa: E402
from benchmarks.startup import run_startup  # noqa: E402
from benchmarks.world import bench_world  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
SECTIONS = ("ack", "listener", "startup", "github", "scale")


@dataclass
class Plan:
    ack: AckConfig
    listener: ListenerConfig
    startup_repeats: int
    members: int = 10_000
    scale_factors: tuple[float, ...] = (1.0, 10.0)
    scale_repeats: int = 3


def plan_for(quick: bool) -> Plan:
    if quick:
        return Plan(AckConfig(repeats=1, samples=10), ListenerConfig(messages=3_000, repeats=1), startup_repeats=1,
                    scale_factors=(0.1, 1.0), scale_repeats=1)
    return Plan(AckConfig(repeats=3, samples=60), ListenerConfig(messages=10_000, repeats=3), startup_repeats=3)


def preamble(quick: bool, command: str) -> list[str]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}` ({'quick' if quick else 'full'} run); "
        f"Python {platform.python_version()}, discord.py {discord.__version__}, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at start.",
        "Ours = the real bot (production settings, SQLite); Bare = a discord.py client that defers every "
        "interaction and does nothing else. Both in their own process, against the project's loopback fakes. "
        "Ratio = ours / bare. Latency: fake Discord dispatch → first callback received; answer: → the answer is "
        "out (the ack itself unless the command defers); CPU per command: the bot process's CPU time (all "
        "threads) over a run / interactions. The scale section compares the bot with itself at two sizes.",
    ]


async def run(plan: Plan, sections: tuple[str, ...], table: Table, keep: Path | None = None) -> None:
    with contextlib.ExitStack() as stack:
        if keep is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eco-bench-")))
        else:  # the bots' logs, configs and databases stay there for a look afterwards
            tmp = keep
            tmp.mkdir(parents=True, exist_ok=False)
        for kind in ("ours", "bare"):
            (tmp / kind).mkdir()
        if {"ack", "listener", "startup"} & set(sections):
            async with bench_world(tmp / "ours", plan.members) as ours, bench_world(tmp / "bare", plan.members) as bare:
                worlds = {"ours": ours, "bare": bare}
                if "ack" in sections:
                    await timed("acknowledgement latency", run_ack(worlds, table, plan.ack, tmp))
                if "listener" in sections:
                    await timed("message listener and memory", run_listener(worlds, table, plan.listener, tmp))
                if "startup" in sections:
                    await timed("start-up", run_startup(worlds, table, plan.startup_repeats, tmp))
        if "github" in sections:
            (tmp / "github").mkdir()
            await timed("GitHub cost", run_github_cost(table, tmp / "github"))
        if "scale" in sections:
            await timed("scale", run_scale(table, tmp / "scale", plan.scale_factors, plan.scale_repeats))


async def timed(what: str, coro) -> None:
    started = time.monotonic()
    sys.stderr.write(f"benchmark: {what}...\n")
    await coro
    sys.stderr.write(f"benchmark: {what} done in {time.monotonic() - started:.0f} s\n")


def targets(table: Table) -> list[str]:
    """The issue's targets, checked against the figures just measured."""
    def rows(predicate) -> list[Row]:
        return [r for r in table.rows if predicate(r) and r.ratio is not None]

    lines = ["## Targets", ""]
    p99 = rows(lambda r: "50 users p99" in r.metric and "normal" in r.section)
    if p99:
        worst = max(p99, key=lambda r: r.ratio or 0)
        lines.append(f"- p99 acknowledgement within 2x of bare at 50 users: worst {worst.ratio:.2f}x "
                     f"({worst.metric.split(',')[0]}) — {'met' if (worst.ratio or 0) <= 2 else 'not met'}")
    missing = [r for r in table.rows
               if r.metric.endswith("p99") and "answer" not in r.metric and r.note and r.note != "all under 3 s"]
    if any("p99" in r.metric for r in table.rows):
        verdict = "met" if not missing else "NOT met: " + ", ".join(r.metric for r in missing)
        lines.append(f"- every acknowledgement under 3 s: {verdict}")
    for metric, limit, name in (("CPU per message", 1.3, "listener cost"),
                                ("resident memory after start", 1.3, "memory after start"),
                                ("process start → first /eco about answered (restart)", 1.5,
                                 "restart to first answer")):
        found = rows(lambda r, m=metric: r.metric == m)
        if found:
            ratio = found[0].ratio or 0
            lines.append(f"- {name} within {limit}x of bare: {ratio:.2f}x — {'met' if ratio <= limit else 'not met'}")
    cost = [r for r in table.rows if r.metric == "steady state, nothing changes: rate-limit cost"]
    if cost and cost[0].ours is not None:
        lines.append(f"- 0 rate-limit cost in steady state with nothing changed: {cost[0].ours:.0f}/h — "
                     f"{'met' if cost[0].ours == 0 else 'not met'}")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats (under 2 minutes)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="a new folder to keep the bots' logs and databases in (default: a temporary one)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"Markdown file to write (default {RESULTS})")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.run" + (" --quick" if args.quick else "")
    table = Table("Benchmarks: pallets-eco bot vs a bare discord.py bot", preamble(args.quick, command))
    started = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(plan_for(args.quick), tuple(args.only or SECTIONS), table, args.keep))
    table.preamble.append(f"Total time {time.monotonic() - started:.0f} s.")
    text = table.markdown() + "\n" + "\n".join(targets(table))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
