"""Adopting an abandoned extension (issue 16), end to end: the real bot against the fake Discord, GitHub
and PyPI. A fork whose upstream went quiet and which carries the work on gets an adoption report and card,
the maintainers decide, and the checklist tracks the PyPI way that applies (PEP 541 request, or the fork's
own name). Ordinary forks are not marked; upstream's text is escaped and capped; adoption steps are ticked
by maintainers only, never by the requester."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db.models.review import ChecklistItem
from bot.services.eligibility import Report
from tests.e2e.test_review_flow import cog
from tests.resilience._support import (
    APPROVE,
    card_of,
    dm_texts,
    settle,
    stored,
    submitted_request,
    wait_card,
    wait_state,
)
from tests.resilience.test_authorization import MAINTAINERS_ONLY, refused, slash

PYPROJECT = """
[project]
name = "{name}"
version = "2.1.0"
dependencies = ["flask>=2.3"]
classifiers = ["Framework :: Flask"]
"""
UPSTREAM = "olduser/flask-old"
FORK = "bob/flask-old"


def adoption_world(h, *, upstream_days: int = 800, ahead: int = 12, own_name: str | None = None,
                   upstream_description: str = "Old helpers for Flask") -> None:
    """olduser/flask-old, quiet for `upstream_days`, published as Flask-Old by olduser; bob's fork of it,
    `ahead` commits ahead, optionally published under a name of its own."""
    now = h.clock.now()
    h.github.add_org("pallets-eco")
    h.github.add_repo(
        UPSTREAM, description=upstream_description, license="BSD-3-Clause",
        files={"pyproject.toml": PYPROJECT.format(name="Flask-Old")},
        pushed_at=now - timedelta(days=upstream_days), releases=[("1.0", now - timedelta(days=upstream_days + 30))],
    )
    h.github.add_repo(
        FORK, fork_of=UPSTREAM, license="BSD-3-Clause", admins=["bob"],
        files={"pyproject.toml": PYPROJECT.format(name=own_name or "Flask-Old")}, pushed_at=now,
    )
    if ahead:
        h.github.set_fork_progress(FORK, ahead_by=ahead, behind_by=1)
    h.pypi.add_project(
        "Flask-Old", requires_dist=["flask>=2.3"], classifiers=["Framework :: Flask"],
        project_urls={"Source": f"https://github.com/{UPSTREAM}"}, roles=[("Owner", "olduser")],
        releases={"1.0": now - timedelta(days=upstream_days + 30)}, version="1.0",
    )
    if own_name:
        h.pypi.add_project(
            own_name, requires_dist=["flask>=2.3"], classifiers=["Framework :: Flask"],
            project_urls={"Source": f"https://github.com/{FORK}"}, roles=[("Owner", "bob")],
            releases={"2.1.0": now - timedelta(days=10)}, version="2.1.0",
        )


FORM = {"repository": f"https://github.com/{FORK}", "pypi_project": "", "github_username": "bob",
        "pypi_username": "bob"}


async def checklist(h, rid: int) -> dict[str, object]:
    async with h.db() as s:
        rows = (await s.scalars(select(ChecklistItem).where(ChecklistItem.request_id == rid))).all()
        return {r.key: r.done_at for r in rows}


async def test_fork_of_an_inactive_upstream_is_an_adoption_from_report_to_checklist(harness):
    h = harness
    adoption_world(h)
    rid = await submitted_request(h, h.USER, **FORM)
    request = await stored(h, rid)
    report = Report.from_json(request.report_json)
    assert request.verdict == "needs_decision" and request.pypi_project == "Flask-Old"
    assert report.adoption is not None and report.adoption["upstream"] == UPSTREAM
    assert report.adoption["ahead_by"] == 12 and report.adoption["pypi_path"] == "pep541"
    keys = [c.key for c in report.checks]
    assert "fork" not in keys and {"adoption_upstream_inactive", "adoption_fork_progress", "adoption_pypi"} <= set(keys)

    card = await wait_card(h, rid, "ADOPTION of an abandoned extension")
    text = card.text()
    last_push = (h.clock.now() - timedelta(days=800)).strftime("%Y-%m-%d")
    for expected in (f"Transfer request #{rid}: {FORK} (adoption)", "NEEDS A MAINTAINERS' DECISION",
                     f"[olduser/flask-old]({h.github.web_url}/{UPSTREAM})", f"last push {last_push}",
                     "12 commits ahead of upstream",
                     f"[compare]({h.github.web_url}/{UPSTREAM}/compare/main...bob:main)",
                     "PEP 541", "belongs to its original owners"):
        assert expected in text, expected

    await h.discord.react(h.MAINTAINER, await card_of(h, rid), APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    items = await checklist(h, rid)
    assert "adoption_pep541" in items and "pypi_owner" not in items and "adoption_own_name" not in items
    card = await wait_card(h, rid, "PEP 541 request filed for the abandoned name *(tick with /eco tick)*")
    [dm] = dm_texts(h, h.USER)
    assert "PEP 541 name transfer request" in dm and "https://peps.python.org/pep-0541/" in dm
    assert "your fork's own name" in dm

    # Ticking the PEP 541 step: a maintainer, never a non-maintainer.
    await refused(h, slash(h, h.USER2, "eco tick", request=rid, item="adoption_pep541"), MAINTAINERS_ONLY)
    assert (await checklist(h, rid))["adoption_pep541"] is None
    tick = await h.slash(h.MAINTAINER, "eco tick", request=rid, item="adoption_pep541", note="pypi/support#1234")
    assert "Ticked" in (await tick.wait_message()).text()
    assert (await checklist(h, rid))["adoption_pep541"] is not None
    await wait_card(h, rid, "~~PyPI: PEP 541 request filed for the abandoned name~~")


async def test_fork_publishing_under_its_own_name_tracks_that_name(harness):
    h = harness
    adoption_world(h, ahead=0, own_name="Flask-Old-Continued")
    rid = await submitted_request(h, h.USER, **FORM)
    request = await stored(h, rid)
    report = Report.from_json(request.report_json)
    assert request.pypi_project == "Flask-Old-Continued"
    assert report.adoption["own_pypi"] and report.adoption["pypi_path"] == "own_name"
    card = await wait_card(h, rid, "(adoption)")
    assert "published on PyPI as Flask-Old-Continued" in card.text()
    await h.discord.react(h.MAINTAINER, await card_of(h, rid), APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    items = await checklist(h, rid)
    assert "adoption_own_name" in items and "pypi_owner" not in items and "adoption_pep541" not in items
    # Tracked by itself: the step is done once davidism is an Owner of the fork's own name.
    h.pypi.set_roles("Flask-Old-Continued", [("Owner", "bob"), ("Owner", "davidism")])
    await cog(h).run_tracking_pass()
    assert (await checklist(h, rid))["adoption_own_name"] is not None
    await wait_card(h, rid, "~~PyPI: davidism is an Owner of the fork's own name~~")


async def test_ordinary_forks_are_not_adoptions(harness):
    h = harness
    # Upstream active (pushed 30 days ago): an ordinary fork, with the usual fork warning.
    adoption_world(h, upstream_days=30)
    rid = await submitted_request(h, h.USER, **FORM)
    report = Report.from_json((await stored(h, rid)).report_json)
    assert report.adoption is None and "fork" in [c.key for c in report.checks]
    card = await card_of(h, rid)
    assert "(adoption)" not in card.text() and "ADOPTION" not in card.text()


async def test_inactive_upstream_but_no_work_is_not_marked(harness):
    h = harness
    adoption_world(h, ahead=0)
    rid = await submitted_request(h, h.USER, **FORM)
    report = Report.from_json((await stored(h, rid)).report_json)
    assert report.adoption is None
    [progress] = [c for c in report.checks if c.key == "adoption_fork_progress"]
    assert progress.status == "warn" and "no commits or releases of its own" in progress.reason
    card = await card_of(h, rid)
    assert "(adoption)" not in card.text() and "ADOPTION of" not in card.text()
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    assert "pypi_owner" in await checklist(h, rid)


async def test_the_inactivity_period_is_configurable(make_harness):
    h = await make_harness(review={"adoption_inactive_days": 1000})
    adoption_world(h, upstream_days=800)  # quiet for 800 days: under the configured 1000
    rid = await submitted_request(h, h.USER, **FORM)
    assert Report.from_json((await stored(h, rid)).report_json).adoption is None
