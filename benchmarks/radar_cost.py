"""What the compatibility radar and `/eco health` refresh cost per hour, against the strict fakes.

Run: `python -m benchmarks.radar_cost`. Measured, not asserted. The real bot runs in-process (background
loops off); the fake clock walks through simulated hours and the radar cog's pass runs every 5 minutes
as its loop would (`[radar]` defaults: refresh_minutes = 60, projects_per_pass = 10). 50 org projects on
PyPI, 10 of them with a release older than 18 months (so the commits-since-release request applies).
Hours measured: the first (everything read, PyPI names from pyproject.toml), one where nothing changes,
and one where everything changes at its start (a new workflow run, a new issue, a new release with new
requirements and a new commit for every project, a new release of every core project).

Rate-limit cost is what GitHub's core limit (5,000/h per token) is charged: authenticated answers that
are not 304. PyPI has no published rate limit; its requests are listed for completeness.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.harness import Harness

ORG = "pallets-eco"
PROJECTS = 50
STALE = 10
CORE = ("Flask", "Werkzeug", "Jinja2", "Click", "MarkupSafe", "ItsDangerous", "WTForms")
STEP_MINUTES = 5


def seed(h: Harness, now: datetime) -> None:
    gh, pypi = h.github, h.pypi
    gh.add_org(ORG)
    for n in range(PROJECTS):
        full = f"{ORG}/flask-ext{n}"
        gh.add_repo(full, owner_type="Organization", pushed_at=now - timedelta(days=1),
                    files={"pyproject.toml": f'[project]\nname = "Flask-Ext{n}"\n'})
        age = timedelta(days=700) if n < STALE else timedelta(days=30)
        pypi.add_project(f"Flask-Ext{n}", version="1.0.0", requires_dist=["flask>=2.3,<3.1", "click>=8"],
                         releases={"1.0.0": now - age})
        gh.add_workflow_run(full, "success", created_at=now - timedelta(days=2))
        gh.add_issue(full, "An issue", created_at=now - timedelta(days=20))
        gh.add_issue(full, "A PR", is_pr=True, created_at=now - timedelta(days=10))
        gh.add_commit(full, now - timedelta(days=5))
    for name in CORE:
        pypi.add_project(name, version="3.0.0", releases={"3.0.0": now - timedelta(days=100)})


def change_everything(h: Harness, now: datetime, round_: int) -> None:
    for n in range(PROJECTS):
        full = f"{ORG}/flask-ext{n}"
        h.github.add_workflow_run(full, "failure", created_at=now)
        h.github.add_issue(full, f"New issue {round_}", created_at=now)
        h.github.add_commit(full, now)
        h.pypi.project(f"Flask-Ext{n}")["requires_dist"] = [f"flask>=2.3,<3.{round_ + 2}"]
        h.pypi.add_release(f"Flask-Ext{n}", f"1.{round_}.0", now - timedelta(days=700 if n < STALE else 1))
    for name in CORE:
        h.pypi.add_release(name, f"3.{round_}.0", now)


async def simulate_hour(h: Harness) -> dict[str, int]:
    radar = h.bot.get_cog("Radar")
    gh0, py0 = len(h.github.requests), len(h.pypi.requests)
    posts = 0
    for _ in range(0, 60, STEP_MINUTES):
        posts += len(await radar.run_pass())  # type: ignore[union-attr]
        h.clock.advance(minutes=STEP_MINUTES)
    gh = h.github.requests[gh0:]
    py = h.pypi.requests[py0:]
    return {
        "github requests": len(gh),
        "github 304": sum(1 for r in gh if r.status == 304),
        "github rate-limit cost": sum(1 for r in gh if r.had_auth and r.status not in (0, 304)),
        "pypi requests": len(py),
        "pypi 304": sum(1 for r in py if r.status == 304),
        "radar posts": posts,
    }


async def measure(tmp: Path) -> dict[str, dict[str, int]]:
    h = await Harness.create(tmp)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        h.clock._now = now
        h.github.clock = h.clock.now
        seed(h, now)
        await h.bot.get_cog("Contribute").service.refresh()  # type: ignore[union-attr]  # the org's repositories
        first = await simulate_hour(h)
        quiet = await simulate_hour(h)
        change_everything(h, h.clock.now(), 1)
        changed = await simulate_hour(h)
        return {"first hour (everything read)": first, "nothing changes": quiet, "everything changes": changed}
    finally:
        await h.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hours = asyncio.run(measure(Path(tmp)))
    keys = list(next(iter(hours.values())))
    print(f"Radar and /eco health refresh, per simulated hour: {PROJECTS} projects ({STALE} with a stale release), "
          f"{len(CORE)} core projects, a pass every {STEP_MINUTES} minutes")
    print(f"{'hour':32}" + "".join(f"{k:>24}" for k in keys))
    for label, figures in hours.items():
        print(f"{label:32}" + "".join(f"{figures[k]:>24}" for k in keys))


if __name__ == "__main__":
    main()
