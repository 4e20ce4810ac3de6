"""Interaction acknowledgement latency: p50/p99 per command and number of concurrent users.

Latency is `FakeInteraction.ack_latency`: from the moment the fake Discord dispatched
INTERACTION_CREATE to the moment it received the bot's first callback, both over loopback. Each
"round" is `users` different members running the command at the same moment; a run is several rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import Row, Table, median, percentile
from benchmarks.world import BenchWorld, BotProcess, member_id

COMMANDS = ("about", "contribute", "status", "transfer")
DEADLINE = 3.0  # Discord's: an answer or a deferral within 3 s
ACK_WAIT = 4.0  # how long a round waits for acknowledgements before counting them as missing
SETTLE_WAIT = 15.0  # how long a round of the real bot waits for its answers before the next round


@dataclass(frozen=True)
class Mode:
    name: str
    github_latency: float = 0.0
    github_down: bool = False


MODES = (
    Mode("GitHub normal"),
    Mode("GitHub answers in 5 s", github_latency=5.0),
    Mode("GitHub down", github_down=True),
)


@dataclass
class AckRun:
    latencies: list[float]
    missing: int  # interactions not acknowledged within ACK_WAIT (Discord would show "did not respond")
    answered: list[float] = field(default_factory=list)  # dispatch → answer out (settled rounds only)
    cpu: float | None = None  # the bot process's CPU seconds per interaction over the run (all threads)

    @property
    def answer_p50(self) -> float:
        return percentile(self.answered, 50) if self.answered else float("nan")

    @property
    def answer_p99(self) -> float:
        return percentile(self.answered, 99) if self.answered else float("nan")

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99) if self.latencies else float("nan")


@dataclass
class AckConfig:
    concurrency: tuple[int, ...] = (1, 10, 50)
    repeats: int = 3
    samples: int = 100  # interactions per run (at least one round)
    modes: tuple[Mode, ...] = MODES
    deferred: tuple[str, ...] = ("contribute",)  # commands that defer, then answer: their answer time is shown too
    commands: tuple[str, ...] = COMMANDS


@contextlib.contextmanager
def github_mode(world: BenchWorld, mode: Mode) -> Iterator[None]:
    world.github.latency, world.github.down = mode.github_latency, mode.github_down
    try:
        yield
    finally:
        world.github.latency, world.github.down = 0.0, False


async def ack_round(world: BenchWorld, command: str, users: int, first_user: int = 0, settle: bool = False) -> AckRun:
    """`users` members run `/eco <command>` at the same time; wait for every acknowledgement (and,
    with `settle`, for every answer)."""
    interactions = await asyncio.gather(
        *(world.slash(member_id(first_user + u), f"eco {command}") for u in range(users))
    )
    await asyncio.gather(*(_wait_quietly(i) for i in interactions))
    latencies = [i.ack_latency for i in interactions if i.ack_latency is not None]
    answered: list[float] = []
    if settle:
        done = await asyncio.gather(*(_wait_answered(world, i) for i in interactions))
        answered = [t for t in done if t is not None]
    return AckRun(latencies, users - len(latencies), answered)


async def _wait_quietly(interaction) -> None:
    with contextlib.suppress(TimeoutError):
        await interaction.wait_ack(timeout=ACK_WAIT)


async def _wait_answered(world: BenchWorld, interaction) -> float | None:
    """Seconds until the answer itself is out (a deferred command answers later), so the next round
    measures its own command, not the tail of this one still running in the bot. None: no answer."""
    try:
        await world.discord._wait_until(
            lambda: interaction.modal is not None or bool(interaction.messages()), SETTLE_WAIT,
            f"answer to interaction {interaction.id}",
        )
    except TimeoutError:
        return None
    first = interaction.callbacks[0] if interaction.callbacks else None
    if first is not None and first.type in (4, 9):  # the message or the modal itself: the ack is the answer
        return first.latency
    return asyncio.get_running_loop().time() - interaction.dispatched_at


async def ack_run(world: BenchWorld, command: str, users: int, samples: int, settle: bool = False) -> AckRun:
    total = AckRun([], 0)
    for _ in range(max(1, -(-samples // users))):
        result = await ack_round(world, command, users, settle=settle)
        total.latencies += result.latencies
        total.missing += result.missing
        total.answered += result.answered
    return total


def available_commands(world: BenchWorld) -> set[str]:
    """Subcommands of /eco the real bot synced (features land while the benchmarks are written)."""
    names: set[str] = set()
    for command in world.discord.commands.get(world.GUILD, {}).values():
        if command["name"] == "eco":
            names.update(option["name"] for option in command.get("options", []))
    return names


async def start_bot(world: BenchWorld, kind: str, db_file: Path) -> BotProcess:
    if kind == "ours":
        await world.prepare_database(db_file, welcomed=0)
    proc = await world.spawn(kind, db_file)
    await proc.wait_ready()
    return proc


async def measure_mode(worlds: dict[str, BenchWorld], mode: Mode, config: AckConfig, tmp: Path) -> dict:
    """{(kind, command, users): [AckRun per repeat]} for one GitHub mode.

    Both bots run at once, each on its own fake Discord, and their runs alternate, so a busy machine
    slows both alike and the ratio stays meaningful.
    """
    results: dict[tuple[str, str, int], list[AckRun]] = {}
    procs: dict[str, BotProcess] = {}
    slug = mode.name.replace(" ", "_")
    with contextlib.ExitStack() as stack:
        for world in worlds.values():
            stack.enter_context(github_mode(world, mode))
        try:
            for kind, world in worlds.items():
                procs[kind] = await start_bot(world, kind, tmp / f"ack-{kind}-{slug}.db")
            available = available_commands(worlds["ours"])
            for command in config.commands:
                if command not in available:
                    continue
                for kind, world in worlds.items():
                    await ack_round(world, command, 1, settle=kind == "ours")  # warm-up: first use of a code path
                for users in config.concurrency:
                    for _ in range(config.repeats):
                        for kind, world in worlds.items():
                            before = (await procs[kind].stats()).process_time
                            run = await ack_run(world, command, users, config.samples, settle=kind == "ours")
                            spent = (await procs[kind].stats()).process_time - before
                            run.cpu = spent / max(1, len(run.latencies) + run.missing)
                            results.setdefault((kind, command, users), []).append(run)
        finally:
            for proc in procs.values():
                await proc.stop()
    return {"results": results, "available": available}


async def run_ack(worlds: dict[str, BenchWorld], table: Table, config: AckConfig, tmp: Path) -> None:
    for mode in config.modes:
        measured = await measure_mode(worlds, mode, config, tmp)
        results, available = measured["results"], measured["available"]
        section = f"Interaction acknowledgement latency, {mode.name} (ms, median of {config.repeats} runs)"
        for command in config.commands:
            for users in config.concurrency:
                label = f"/eco {command}, {users} user{'s' if users > 1 else ''}"
                if command not in available:
                    table.add(Row(section, f"{label} p50", None, None, note="command not in this build"))
                    continue
                add_ack_rows(table, section, label, results[("ours", command, users)],
                             results[("bare", command, users)], deferred=command in config.deferred)


def add_ack_rows(
    table: Table, section: str, label: str, ours: list[AckRun], bare: list[AckRun], deferred: bool = False
) -> None:
    def ms(runs: list[AckRun], attr: str) -> float:
        return median(getattr(r, attr) for r in runs) * 1000

    worst = max(max(r.latencies, default=0.0) for r in ours)
    missing = sum(r.missing for r in ours)
    samples = sum(len(r.latencies) + r.missing for r in ours)
    verdict = "all under 3 s" if missing == 0 and worst < DEADLINE else f"{missing} missing, worst {worst:.2f} s"
    table.add(Row(section, f"{label} p50", ms(ours, "p50"), ms(bare, "p50"), "ms", f"{samples} samples"))
    table.add(Row(section, f"{label} p99", ms(ours, "p99"), ms(bare, "p99"), "ms", verdict))
    if all(r.answered for r in ours):
        # The bare bot only defers; what a user waits for is our answer (the ack itself, unless the
        # command defers), so show it for every command (no ratio).
        answered = sum(len(r.answered) for r in ours)
        note = f"answer out, {answered} of {samples}" + ("" if deferred else "; the acknowledgement is the answer")
        table.add(Row(section, f"{label} answer p50", ms(ours, "answer_p50"), None, "ms", note))
        table.add(Row(section, f"{label} answer p99", ms(ours, "answer_p99"), None, "ms", note))
    if all(r.cpu is not None for r in ours + bare):
        table.add(Row(section, f"{label} CPU per command", ms(ours, "cpu"), ms(bare, "cpu"), "ms",
                      "bot process, all threads; the bare bot only defers"))
