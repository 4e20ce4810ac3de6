"""How cost grows: the same work at 1x and 10x of the project's sizes.

| size | 1x | 10x |
|---|---:|---:|
| tracked transfers (approved, checklist running) | 20 | 200 |
| beginner issues in the org (the suggestion cache's source) | 2,000 | 20,000 |
| guild members | 10,000 | 100,000 |
| pallets-eco repositories | 40 | 400 |

The real bot runs in-process (tests.harness.Harness, background loops off) against the loopback fakes;
its own services do the loops' work. Measured per size: one tracking pass and one suggestion refresh,
cold (caches empty) and warm (nothing changed: ETags answer 304), as GitHub requests, rate-limit units
(the core limit's count: authenticated answers other than 304 and search) and wall time; `/eco contribute`
acknowledgement and answer p99 with 50 members at once; the Python heap the bot's work allocated
(tracemalloc peak during the cold passes, which are timed with it on) and the process's resident
memory (bot and fakes together).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from benchmarks.github_cost import approve_requests
from benchmarks.report import Row, Table, median, percentile
from bot.services.suggestions_refresh import SEARCH_CAP
from tests.harness import Harness

ORG = "pallets-eco"
FIRST_MEMBER = 920_000_000_000_000_000


@dataclass(frozen=True)
class Sizes:
    tracked: int = 20
    issues: int = 2_000
    members: int = 10_000
    repos: int = 40

    def times(self, factor: float) -> Sizes:
        return Sizes(*(max(1, round(v * factor)) for v in (self.tracked, self.issues, self.members, self.repos)))


@dataclass
class PassCost:
    requests: int = 0
    cost: int = 0
    search: int = 0
    seconds: float = 0.0


@dataclass
class ScaleResult:
    sizes: Sizes
    tracking_cold: PassCost
    tracking_warm: PassCost
    refresh_cold: PassCost
    refresh_warm: PassCost
    issues_cached: int
    contribute_ack_p99: float
    contribute_answer_p99: float
    heap_peak: int  # bytes the passes and commands allocated at their peak (tracemalloc)
    rss: int
    db_bytes: int


class ScaleHarness(Harness):
    def __init__(self, tmp_path: Path, sizes: Sizes) -> None:
        super().__init__(tmp_path)
        self.sizes = sizes

    def _build_world(self) -> None:
        super()._build_world()
        s = self.sizes
        self.discord.add_members(self.GUILD, [(FIRST_MEMBER + i, f"m{i}") for i in range(s.members)])
        gh = self.github
        gh.add_org(ORG)
        names = [f"{ORG}/ext{r}" for r in range(s.repos)]
        for name in names:
            gh.add_repo(name, owner_type="Organization", readme="# Ext\n")
        for i in range(s.issues):
            gh.add_issue(names[i % len(names)], f"Document option {i}", labels=["good first issue"])
        for n in range(s.tracked):
            login = f"owner{n}"
            gh.add_repo(f"{login}/flask-tracked{n}", admins=[login], readme="# Tracked\n")
            self.pypi.add_project(f"flask-tracked{n}", roles=[("Owner", login)])


async def _timed(h: Harness, work) -> PassCost:
    first = len(h.github.requests)
    started = time.perf_counter()
    await work()
    seconds = time.perf_counter() - started
    new = h.github.requests[first:]
    api = [r for r in new if r.path.startswith("/api") and r.status != 0]
    search = [r for r in api if r.path.startswith("/api/search/")]
    cost = [r for r in api if r.had_auth and r.status != 304 and not r.path.startswith("/api/search/")]
    return PassCost(len(new), len(cost), len(search), seconds)


async def _contribute_round(h: Harness, users: int) -> tuple[list[float], list[float]]:
    interactions = await asyncio.gather(*(h.slash(FIRST_MEMBER + u, "eco contribute") for u in range(users)))
    for i in interactions:
        await i.wait_ack(timeout=10)
    answered = []
    loop = asyncio.get_running_loop()
    for i in interactions:
        await h.discord._wait_until(lambda i=i: bool(i.messages()), 15, "contribute answer")
        answered.append(loop.time() - i.dispatched_at)
    return [i.ack_latency for i in interactions], answered


async def measure(tmp: Path, sizes: Sizes, users: int = 50, rounds: int = 3) -> ScaleResult:
    h = ScaleHarness(tmp, sizes)
    await h.start()
    try:
        h.clock._now = datetime.now(UTC).replace(microsecond=0)  # the fake GitHub stamps real dates
        h.github.clock = h.clock.now
        await approve_requests(h, sizes.tracked)
        tracking = h.bot.get_cog("Review").tracking  # type: ignore[union-attr]
        contribute = h.bot.get_cog("Contribute").service  # type: ignore[union-attr]
        gc.collect()
        tracemalloc.start()
        tracking_cold = await _timed(h, tracking.run_pass)
        refreshed = {}

        async def refresh() -> None:
            refreshed["result"] = await contribute.refresh()

        refresh_cold = await _timed(h, refresh)
        issues_cached = refreshed["result"].issues
        heap_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        h.clock.advance(minutes=30)
        tracking_warm = await _timed(h, tracking.run_pass)
        refresh_warm = await _timed(h, refresh)
        acks: list[float] = []
        answers: list[float] = []
        await _contribute_round(h, 1)  # warm-up
        for _ in range(rounds):
            a, b = await _contribute_round(h, users)
            acks += a
            answers += b
        await asyncio.sleep(1.0)  # let the last commands finish before the harness closes under them
        db_bytes = _db_bytes(tmp)
        return ScaleResult(
            sizes, tracking_cold, tracking_warm, refresh_cold, refresh_warm, issues_cached,
            percentile(acks, 99), percentile(answers, 99), heap_peak,
            psutil.Process(os.getpid()).memory_info().rss, db_bytes,
        )
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        await h.close()


def _db_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("eco.db*"))


def _growth(one: float, ten: float, factor: float) -> str:
    if one <= 0:
        return "flat" if ten <= 0 else "from nothing"
    ratio = ten / one
    if ratio < 1.5:
        return f"flat ({ratio:.1f}x)"
    if ratio < factor * 0.6:
        return f"sub-linear ({ratio:.1f}x)"
    if ratio <= factor * 1.5:
        return f"linear ({ratio:.1f}x)"
    return f"super-linear ({ratio:.1f}x)"


async def run_scale(table: Table, tmp: Path, factors: tuple[float, ...] = (1.0, 10.0), repeats: int = 1,
                    base: Sizes = Sizes(), users: int = 50, rounds: int = 3) -> list[list[ScaleResult]]:
    """Measure each size `repeats` times (medians reported) and add the scale rows to `table`."""
    runs: list[list[ScaleResult]] = []
    for factor in factors:
        results = []
        for r in range(repeats):
            folder = tmp / f"scale-{factor:g}x-{r}"
            folder.mkdir(parents=True)
            results.append(await measure(folder, base.times(factor), users, rounds))
        runs.append(results)
    add_scale_rows(table, factors, runs, repeats, users)
    return runs


def add_scale_rows(table: Table, factors: tuple[float, ...], runs: list[list[ScaleResult]], repeats: int,
                   users: int) -> None:
    """Ours = the largest size, Bare = the smallest (so Ratio is how much it grew)."""
    small, large = runs[0], runs[-1]
    factor = factors[-1] / factors[0]
    s0, s1 = small[0].sizes, large[0].sizes
    section = (f"How cost grows: {factors[0]:g}x vs {factors[-1]:g}x (median of {repeats}; Ours = "
               f"{factors[-1]:g}x, Bare column = {factors[0]:g}x, Ratio = growth)")
    sizes = (f"{s0.tracked}→{s1.tracked} tracked transfers, {s0.issues:,}→{s1.issues:,} beginner issues, "
             f"{s0.members:,}→{s1.members:,} members, {s0.repos}→{s1.repos} repositories")

    def row(metric: str, get, unit: str, digits: int = 1, note: str = "") -> None:
        one, ten = median(get(r) for r in small), median(get(r) for r in large)
        table.add(Row(section, metric, ten, one, unit, f"{_growth(one, ten, factor)}. {note}".strip(), digits))

    row("sizes", lambda r: r.sizes.tracked, "tracked", 0, sizes)
    for label, attr in (("tracking pass, cold", "tracking_cold"), ("tracking pass, warm (nothing changed)",
                                                                   "tracking_warm"),
                        ("suggestion refresh, cold", "refresh_cold"),
                        ("suggestion refresh, warm (nothing changed)", "refresh_warm")):
        row(f"{label}: requests", lambda r, a=attr: getattr(r, a).requests, "", 0)
        row(f"{label}: rate-limit units", lambda r, a=attr: getattr(r, a).cost, "", 0, "core limit 5,000/h")
        if "refresh" in label:
            row(f"{label}: search requests", lambda r, a=attr: getattr(r, a).search, "", 0, "search limit 30/min")
        row(f"{label}: time", lambda r, a=attr: getattr(r, a).seconds, "s", 2,
            "loopback fakes, no network latency" + ("; tracemalloc on (slower)" if "cold" in label else ""))
    row("beginner issues in the suggestion cache", lambda r: r.issues_cached, "", 0,
        f"search returns at most {SEARCH_CAP:,} results per query")
    row(f"/eco contribute ack p99, {users} users", lambda r: r.contribute_ack_p99 * 1000, "ms")
    row(f"/eco contribute answer p99, {users} users", lambda r: r.contribute_answer_p99 * 1000, "ms")
    row("Python heap peak during the cold passes", lambda r: r.heap_peak / 2**20, "MiB", 1, "tracemalloc")
    row("resident memory, bot and fakes in one process", lambda r: r.rss / 2**20, "MiB", 0)
    row("database file", lambda r: r.db_bytes / 2**20, "MiB", 1)
