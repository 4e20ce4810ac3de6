"""GitHub requests and rate-limit cost per hour in steady state.

The real bot runs in-process (tests.harness.Harness: background loops off) and its own services do
the work its loops would do: `TrackingService.run_pass` (via the review cog) every
`tracking.interval_minutes`, `SuggestionService.refresh` (via the contribute cog) every
`contribute.refresh_minutes`. The fake clock walks through a simulated hour, running each pass when it
is due, so per-hour figures follow the configured intervals. A first hour fills the caches; then an
hour where nothing changes, and an hour where 10 beginner issues change at its start.

Cost is what the core limit (5,000/h per token) is charged: authenticated API answers other than 304
and other than search. Search has its own limit (30 a minute with a token) and its answers carry no
ETag, so every search page is a full request: counted separately, with the busiest minute. A last
run without GITHUB_TOKEN shows what the same work needs from the IP's 60 an hour, where 304s count
too. The fake GitHub runs on the bot's clock, so its hourly windows follow the simulated hours. The
bare bot makes no GitHub request at all, so its column is 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.report import Row, Table
from bot.db.models.transfers import TransferRequest
from bot.services.review import APPROVE
from tests.harness import Harness

ORG = "pallets-eco"
TRACKED = 20
ORG_REPOS = 10
ISSUES_PER_REPO = 5
CHANGED_ISSUES = 10
STEP_MINUTES = 5


@dataclass
class HourCost:
    requests: int
    cost: int  # against the core limit: authenticated, not 304, not search
    tracking_passes: int
    refreshes: int
    costly: dict[str, int]  # "GET /path → status": requests that counted against the limit
    search: int = 0  # search requests (search limit: 30/min with a token, 10/min without)
    search_peak_minute: int = 0
    anonymous: int = 0  # answered requests sent without a token (all count against 60/h)
    refused: int = 0  # answers that were a rate-limit refusal (403/429)

    def top_costs(self, limit: int = 2) -> str:
        ranked = sorted(self.costly.items(), key=lambda kv: -kv[1])[:limit]
        return "; ".join(f"{n}× {what}" for what, n in ranked)


def seed(h: Harness) -> None:
    gh, pypi = h.github, h.pypi
    gh.add_org(ORG)
    for r in range(ORG_REPOS):
        name = f"{ORG}/flask-ext{r}"
        gh.add_repo(name, owner_type="Organization", readme="# Ext\n")
        for i in range(ISSUES_PER_REPO):
            gh.add_issue(name, f"Document option {i}", labels=["good first issue"])
    for n in range(TRACKED):
        login = f"owner{n}"
        gh.add_repo(f"{login}/flask-tracked{n}", admins=[login], readme="# Tracked\n")
        pypi.add_project(f"flask-tracked{n}", roles=[("Owner", login)])


async def approve_requests(h: Harness, tracked: int = TRACKED) -> list[int]:
    """`tracked` (20) verified requests, each approved by a maintainer vote (which starts its checklist)."""
    review = h.bot.get_cog("Review").review  # type: ignore[union-attr]
    now = h.clock.now()
    ids = []
    for n in range(tracked):
        login, name = f"owner{n}", f"flask-tracked{n}"
        repo = h.github.repo(f"{login}/{name}")
        async with h.db() as s:
            req = TransferRequest(
                guild_id=h.GUILD, requester_id=h.USER, repo_owner=login, repo_name=name,
                repo_key=f"{login}/{name}", state="under_review", pypi_project=name, github_username=login,
                github_repo_id=repo["id"], verdict="eligible", submitted_at=now, created_at=now,
                verified_at=now, verification_method="oauth", verified_github_login=login,
            )
            s.add(req)
            await s.commit()
            ids.append(req.id)
        outcome = await review.record_vote(req.id, h.MAINTAINER, APPROVE, True, True)
        if outcome.decision != "approved":
            raise RuntimeError(f"request {req.id} was not approved: {outcome}")
    return ids


async def simulate_hour(h: Harness) -> HourCost:
    """Walk the fake clock through an hour, running each pass when its interval says so."""
    tracking = h.bot.get_cog("Review")
    contribute = h.bot.get_cog("Contribute")
    track_every = h.settings.tracking.interval_minutes
    refresh_every = h.settings.contribute.refresh_minutes
    requests0 = len(h.github.requests)
    passes = refreshes = 0
    per_minute: dict[int, int] = {}
    for minute in range(0, 60, STEP_MINUTES):
        searches0 = h.github.search_cost()
        if minute % track_every < STEP_MINUTES:
            await tracking.tracking.run_pass()  # type: ignore[union-attr]
            passes += 1
        if minute % refresh_every < STEP_MINUTES:
            await contribute.service.refresh()  # type: ignore[union-attr]
            refreshes += 1
        # The passes take well under a minute of simulated time (the clock only moves between steps).
        per_minute[minute] = h.github.search_cost() - searches0
        h.clock.advance(minutes=STEP_MINUTES)
    new = h.github.requests[requests0:]
    costly: dict[str, int] = {}
    for r in new:
        if r.had_auth and r.status not in (0, 304) and r.path.startswith("/api") and not _search(r.path):
            what = f"{r.method} {re.sub(r'[0-9]+', 'N', r.path.removeprefix('/api'))} → {r.status}"
            costly[what] = costly.get(what, 0) + 1
    answered = [r for r in new if r.status != 0 and r.path.startswith("/api")]
    return HourCost(
        len(new), sum(costly.values()), passes, refreshes, costly,
        search=sum(1 for r in answered if _search(r.path)),
        search_peak_minute=max(per_minute.values(), default=0),
        anonymous=sum(1 for r in answered if not r.had_auth),
        refused=sum(1 for r in answered if r.status in (403, 429)),
    )


def _search(path: str) -> bool:
    return path.startswith("/api/search/")


def change_issues(h: Harness, count: int) -> None:
    changed = 0
    for r in range(ORG_REPOS):
        for number in range(1, ISSUES_PER_REPO + 1):
            if changed == count:
                return
            h.github.update_issue(f"{ORG}/flask-ext{r}", number, comments=3, labels=["good first issue", "docs"])
            changed += 1


async def measure(tmp: Path, *, token: bool = True) -> dict[str, HourCost]:
    h = await Harness.create(tmp, **({} if token else {"env": {"GITHUB_TOKEN": ""}}))
    try:
        missing = [cog for cog in ("Review", "Contribute") if h.bot.get_cog(cog) is None]
        if missing:
            raise LookupError(f"cogs not in this build: {missing}")
        # FakeClock has no setter; the fake GitHub stamps real dates, so start the clock at real time.
        h.clock._now = datetime.now(UTC).replace(microsecond=0)
        h.github.clock = h.clock.now  # its hourly and per-minute windows follow the simulated time
        seed(h)
        await approve_requests(h)
        warm = await simulate_hour(h)
        quiet = await simulate_hour(h)
        change_issues(h, CHANGED_ISSUES)
        changed = await simulate_hour(h)
        return {"first hour (caches fill)": warm, "steady state, nothing changes": quiet,
                f"steady state, {CHANGED_ISSUES} issues change": changed}
    finally:
        await h.close()


async def run_github_cost(table: Table, tmp: Path) -> None:
    section = (f"GitHub requests per hour (tracking {TRACKED} approved requests + suggestion cache refresh, "
               f"{ORG_REPOS * ISSUES_PER_REPO} beginner issues)")
    try:
        hours = await measure(tmp)
    except LookupError as exc:
        table.add(Row(section, "requests per hour", None, None, note=str(exc)))
        return
    for label, hour in hours.items():
        note = f"{hour.tracking_passes} tracking passes, {hour.refreshes} refreshes"
        table.add(Row(section, f"{label}: requests", float(hour.requests), 0.0, "/h", note, digits=0))
        target = "target 0. " if "nothing" in label else ""
        table.add(Row(section, f"{label}: rate-limit cost", float(hour.cost), 0.0, "/h",
                      f"{target}core limit 5,000/h; search not included. {hour.top_costs()}", digits=0))
        table.add(Row(section, f"{label}: search requests", float(hour.search), 0.0, "/h",
                      f"search has no ETag: every page counts; busiest minute {hour.search_peak_minute} "
                      "(limit 30/min)", digits=0))
    anonymous = await measure(tmp / "anonymous", token=False)
    quiet = anonymous["steady state, nothing changes"]
    table.add(Row(section, "without GITHUB_TOKEN, nothing changes: counted requests", float(quiet.anonymous), 0.0,
                  "/h", f"limit 60/h per IP, 304s count too; {quiet.refused} refused by the limit; "
                  f"{quiet.search} searches, busiest minute {quiet.search_peak_minute} (limit 10/min)", digits=0))
