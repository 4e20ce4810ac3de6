"""Adopting an abandoned extension (issue 16), end to end: the real bot against the fake Discord, GitHub
and PyPI. A fork whose upstream went quiet and which carries the work on gets an adoption report and card,
the maintainers decide, and the checklist tracks the PyPI way that applies (PEP 541 request, or the fork's
own name). Ordinary forks are not marked; upstream's text is escaped and capped; adoption steps are ticked
by maintainers only, never by the requester."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select

from bot.config import DiscordSettings, Settings
from bot.db.models.review import ChecklistItem
from bot.db.models.transfers import TransferRequest
from bot.services.adoption import MAX_DESCRIPTION, valid_full_name
from bot.services.eligibility import Report
from bot.services.review import CardData, Tally
from cogs.review_render import render_card
from tests.e2e.test_review_flow import cog
from tests.fakes.github import FakeGitHub
from tests.resilience._support import (
    APPROVE,
    assert_no_pings,
    card_of,
    dm_texts,
    fast_retries,
    request_row,
    settle,
    stored,
    submit,
    submitted_request,
    to_ready,
    wait_card,
    wait_state,
)
from tests.resilience.hostile_strings import STRINGS
from tests.resilience.test_authorization import MAINTAINERS_ONLY, refused, slash
from tests.services.test_status_and_card_render import assert_within_limits

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


# ------------------------------------------------------------------------- hostile upstream text


HOSTILE = "@everyone <@&123456789012345678> **bold** [click](https://evil.example) ||x||\n# Heading\n"


async def test_upstream_description_is_escaped_and_capped_on_the_card(harness):
    h = harness
    adoption_world(h, upstream_description=HOSTILE + "y" * 5000)
    rid = await submitted_request(h, h.USER, **FORM)
    stored_adoption = Report.from_json((await stored(h, rid)).report_json).adoption
    assert len(stored_adoption["upstream_description"]) == MAX_DESCRIPTION  # capped before it is stored
    card = await wait_card(h, rid, "(adoption)")
    assert_no_pings(card)
    text = card.text()
    assert "@everyone" not in text and "<@&123456789012345678>" not in text and "**bold**" not in text
    assert not re.search(r"(?<!\\)\[click\]\(", text) and "\n# Heading" not in text
    assert "y" * (MAX_DESCRIPTION + 1) not in text


def adoption_request(**adoption: object) -> TransferRequest:
    data = {"upstream": UPSTREAM, "upstream_description": "Old", "upstream_last_push": "2023-01-01T00:00:00+00:00",
            "upstream_last_release": None, "last_activity": "2023-01-01T00:00:00+00:00", "inactive_days": 900,
            "ahead_by": 3, "compare": "main...bob:main", "fork_releases": 0, "own_pypi": False,
            "pypi_path": "pep541", "pypi_name": "Flask-Old", **adoption}
    report = Report(verdict="needs_decision", checks=[], repo_full_name=FORK, pypi_project="Flask-Old",
                    adoption=data)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return TransferRequest(id=9, guild_id=1, requester_id=42, state="under_review", repo_owner="bob",
                           repo_name="flask-old", repo_key=FORK, pypi_project="Flask-Old", github_username="bob",
                           verdict="needs_decision", report_json=report.to_json(), created_at=now, updated_at=now,
                           submitted_at=now)


def test_every_hostile_string_in_a_stored_adoption_renders_inert_and_within_limits():
    """A report written by another version, or a tampered database: every adoption value the card shows
    goes through the corpus (upstream name and description, dates, the compare path, the PyPI name)."""
    settings = Settings(discord=DiscordSettings(guild_id=1, eco_channel_id=2, review_channel_id=3,
                                                maintainer_role_ids=(4,)))
    for text in STRINGS:
        for field in ("upstream", "upstream_description", "last_activity", "upstream_last_push", "compare",
                      "pypi_name"):
            embed = render_card(CardData(adoption_request(**{field: text}), Tally(), 1, None), settings)
            assert_within_limits(embed)
            rendered = "\n".join([embed.title or "", embed.description or "",
                                  *(f.value or "" for f in embed.fields)])
            assert not re.search(r"(?<![\\\u200b])@(everyone|here)", rendered), (field, text)
            assert not re.search(r"(?<!\\)<@[!&]?\d{17,20}>", rendered), (field, text)
            if field in ("upstream", "compare") and not valid_full_name(text) and "..." not in text:
                # Only checked GitHub names become links.
                assert f"]({settings.github.web_url}/{text}" not in rendered, (field, text)


# ------------------------------------------------------------------------- authorization, restart


async def test_the_requester_never_ticks_their_own_adoption_steps_even_as_a_maintainer(harness):
    h = harness
    adoption_world(h)
    requester, other = h.MAINTAINER, h.MAINTAINER2
    rid = await submitted_request(h, requester, verified=False, **FORM)
    done = await (await h.slash(other, "eco verify-manual", request=rid, reason="Known")).wait_message()
    assert "Verified" in done.text()
    card = await card_of(h, rid)
    await h.discord.react(other, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    await refused(h, slash(h, h.USER2, "eco tick", request=rid, item="adoption_pep541"), MAINTAINERS_ONLY)
    await refused(h, slash(h, requester, "eco tick", request=rid, item="adoption_pep541"), "another maintainer must")
    # A step from the other PyPI way is not on this checklist.
    answer = await (await h.slash(other, "eco tick", request=rid, item="adoption_own_name")).wait_message()
    assert "is not on the checklist" in answer.text()
    assert (await checklist(h, rid))["adoption_pep541"] is None

    # Nothing about the adoption lives in memory: after a restart the same checklist is ticked.
    await h.restart()
    tick = await h.slash(other, "eco tick", request=rid, item="adoption_pep541", note="filed")
    assert "Ticked" in (await tick.wait_message()).text()
    assert (await checklist(h, rid))["adoption_pep541"] is not None


# ------------------------------------------------------------------------- GitHub's answers


async def test_a_fork_github_cannot_compare_still_counts_its_own_releases(harness):
    h = harness
    adoption_world(h, ahead=0)
    # Unrelated histories, a deleted branch: the compare endpoint documents a 404 for what it can't compare.
    h.github.fail("GET", r"/compare/", 404, body={"message": "Not Found"})
    h.github.repo(FORK)["releases"] = [("v2.0", h.clock.now() - timedelta(days=3))]
    rid = await submitted_request(h, h.USER, **FORM)
    adoption = Report.from_json((await stored(h, rid)).report_json).adoption
    assert adoption["ahead_by"] is None and adoption["fork_releases"] == 1
    card = await wait_card(h, rid, "(adoption)")
    assert "GitHub could not compare it with upstream, 1 release of its own" in card.text()
    assert "[compare](" not in card.text()


async def test_github_down_during_the_adoption_checks_postpones_them(harness):
    h = harness
    fast_retries(h)
    adoption_world(h)
    h.github.fail("GET", r"/compare/", 503, times=3)  # the first try and the client's two retries
    msg = await to_ready(h, h.USER, **FORM)
    _, report = await submit(h, msg, timeout=20)
    assert "Checks postponed" in report.text()
    [row] = await request_row(h)
    assert row.report_json is None and row.verdict is None
    h.clock.advance(minutes=6)
    assert await h.bot.get_cog("Transfers").service.retry_pending_checks() == [row.id]
    [row] = await request_row(h, id=row.id)
    assert Report.from_json(row.report_json).adoption["ahead_by"] == 12


def test_the_fake_compare_answers_like_github():
    """Self-test of tests/fakes/github.py's compare: counts on every page, files only on page 1, only
    repositories of the same network (https://docs.github.com/en/rest/commits/commits#compare-two-commits)."""

    async def run() -> None:
        gh = FakeGitHub()
        await gh.start()
        try:
            gh.add_repo("up/lib", pushed_at=datetime(2020, 1, 1, tzinfo=UTC))
            gh.add_repo("me/lib", fork_of="up/lib")
            gh.add_repo("me/other")
            gh.set_fork_progress("me/lib", ahead_by=3, behind_by=2)
            async with aiohttp.ClientSession() as session:
                base = f"{gh.api_url}/repos/up/lib/compare/main...me:main"
                async with session.get(base) as r:
                    first = await r.json()
                async with session.get(base, params={"per_page": 1, "page": 2}) as r:
                    second = await r.json()
                async with session.get(f"{gh.api_url}/repos/up/lib/compare/main...nobody:main") as r:
                    assert r.status == 404
                async with session.get(f"{gh.api_url}/repos/up/lib/compare/main...me:develop") as r:
                    assert r.status == 404
            assert (first["ahead_by"], first["behind_by"], first["status"]) == (3, 2, "diverged")
            assert len(first["commits"]) == 3 and len(first["files"]) == 3
            assert second["ahead_by"] == 3 and len(second["commits"]) == 1 and "files" not in second
        finally:
            await gh.close()

    asyncio.run(run())
