"""PyPI requests per tracking pass, by checklist stage, against the strict fake PyPI.

Run: `python -m benchmarks.pypi_cost`. Measured, not asserted. 20 approved requests whose PyPI names are
typed as the projects display them (`Flask-Tracked0`), as requesters do; the fake answers like Warehouse
(redirects other spellings to the normalised name, JSON simple index with upload times). Each stage is
measured twice: the first pass (cold caches) and the next one (ETag revalidation, 304s).
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import update

from bot.clock import FakeClock
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.review import ChecklistItem
from bot.services.review import APPROVE, ReviewService
from bot.services.tracking import TrackingService
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI
from tests.services.test_review import MAINT_A, add_request, github_client, make_settings, pypi_client

COUNT = 20


async def _measure(tmp: Path) -> list[tuple[str, int, int, int, int]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp}/cost.db")
    await migrate.upgrade(engine)
    db = create_session_factory(engine)
    clock = FakeClock()
    rows = []
    async with FakeGitHub() as gh, FakePyPI() as pypi, aiohttp.ClientSession() as http:
        gh.add_org("pallets-eco")
        ids = []
        for n in range(COUNT):
            repo = gh.add_repo(f"owner{n}/flask-tracked{n}", admins=[f"owner{n}"], readme="# T\n")
            pypi.add_project(f"Flask-Tracked{n}", roles=[("Owner", f"owner{n}")])
            rid = await add_request(db, clock, repo=f"owner{n}/flask-tracked{n}", pypi=f"Flask-Tracked{n}",
                                    login=f"owner{n}", repo_id=repo["id"])
            await ReviewService(db, clock, make_settings()).record_vote(rid, MAINT_A, APPROVE, True, True)
            ids.append(rid)
        settings = make_settings(github_url=gh.root_url, pypi_url=pypi.url)
        svc = TrackingService(db, github_client(http, gh), pypi_client(http, pypi), clock, settings)

        async def passes(label: str) -> None:
            for run in ("first pass", "next pass"):
                clock.advance(minutes=15)
                before = len(pypi.requests)
                await svc.run_pass()
                new = pypi.requests[before:]
                rows.append((f"{label}, {run}", len(new), sum(r.status == 304 for r in new),
                             sum(r.path.startswith("/pypi/") for r in new),
                             sum(r.path.startswith("/simple/") for r in new)))

        await passes("not moved yet (PyPI owner and release open)")
        for n in range(COUNT):
            gh.transfer_repo(f"owner{n}/flask-tracked{n}", "pallets-eco")
        await passes("moved (PyPI owner and release open)")
        async with db() as s:
            await s.execute(update(ChecklistItem).where(ChecklistItem.key == "pypi_owner")
                            .values(done_at=clock.now(), note="benchmark"))
            await s.commit()
        await passes("moved, PyPI owner done (release open)")
        for n in range(COUNT):
            pypi.add_release(f"Flask-Tracked{n}", "2.0.0", clock.now() - timedelta(minutes=1))
        await passes("release published")
    await engine.dispose()
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(_measure(Path(tmp)))
    print(f"PyPI requests per tracking pass, {COUNT} tracked requests")
    print(f"{'stage':60} {'all':>5} {'304':>5} {'json':>5} {'simple':>6}")
    for label, total, not_modified, json_api, simple in rows:
        print(f"{label:60} {total:5} {not_modified:5} {json_api:5} {simple:6}")


if __name__ == "__main__":
    main()
