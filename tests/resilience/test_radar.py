"""Compatibility radar and `/eco health`, end to end: the real bot against the fake Discord, GitHub and
PyPI. A new core release produces one radar post naming the capped extension and its cap, exactly once
across restarts and a process killed mid-post; `/eco health` answers from the database only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db.models.radar import RadarPost
from tests.resilience._support import assert_no_pings

ORG = "pallets-eco"
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


@pytest.fixture
async def eco(harness):
    assert isinstance(harness.clock, FakeClock)
    harness.clock.advance(seconds=(NOW - harness.clock.now()).total_seconds())
    harness.github.clock = harness.clock.now
    harness.github.add_org(ORG)
    return harness


def world(h) -> None:
    gh, pypi = h.github, h.pypi
    # The PyPI name comes from pyproject.toml (it differs from the repository name here).
    gh.add_repo(f"{ORG}/capped-repo", owner_type="Organization", pushed_at=ago(days=2),
                files={"pyproject.toml": '[project]\nname = "Flask-Capped"\nversion = "1.0"\n'})
    pypi.add_project("Flask-Capped", version="2.0.0", requires_dist=["flask<3.1,>=2.3", "click>=8.0"],
                     releases={"2.0.0": ago(days=40)})
    gh.add_workflow_run(f"{ORG}/capped-repo", "success", created_at=ago(days=3))
    gh.add_workflow_run(f"{ORG}/capped-repo", "failure", created_at=ago(days=1))
    gh.add_issue(f"{ORG}/capped-repo", "Old PR", is_pr=True, created_at=ago(days=90))
    gh.add_issue(f"{ORG}/capped-repo", "A bug", created_at=ago(days=10))
    gh.add_issue(f"{ORG}/capped-repo", "Newer PR", is_pr=True, created_at=ago(days=5))

    gh.add_repo(f"{ORG}/flask-old", owner_type="Organization", pushed_at=ago(days=2))
    pypi.add_project("flask-old", version="0.9", requires_dist=["Flask>=2"], releases={"0.9": ago(days=800)})
    gh.add_commit(f"{ORG}/flask-old", ago(days=30))
    gh.add_workflow_run(f"{ORG}/flask-old", "success")

    gh.add_repo(f"{ORG}/fine", owner_type="Organization", pushed_at=ago(days=2))
    pypi.add_project("fine", version="1.0", requires_dist=["flask>=3"], releases={"1.0": ago(days=10)})

    pypi.add_project("Flask", version="3.0.3", releases={"3.0.3": ago(days=100)})
    pypi.add_project("Werkzeug", version="3.1.3", releases={"3.1.3": ago(days=100)})


async def prime(h):
    await h.bot.get_cog("Contribute").service.refresh()
    return await h.bot.get_cog("Radar").run_pass(all_due=True)


def radar_posts(h) -> list:
    return [m for m in h.discord.messages_in(h.REVIEW_CHANNEL) if "Compatibility radar" in m.content]


async def test_new_core_release_posts_once_naming_the_cap_and_never_again_after_restarts(eco):
    world(eco)
    assert await prime(eco) == []  # the first sight of Flask 3.0.3 is the baseline, not news
    assert radar_posts(eco) == []

    eco.pypi.add_release("Flask", "3.1.0", ago(hours=1))
    eco.pypi.add_release("Flask", "3.2.0rc1", ago(minutes=5))  # pre-releases are ignored by default
    alerts = await eco.bot.get_cog("Radar").run_pass()
    assert [(a.core, a.version) for a in alerts] == [("flask", "3.1.0")]
    [post] = radar_posts(eco)
    assert "Flask 3.1.0" in post.content and "pallets-eco/capped-repo" in post.content
    assert "Flask-Capped 2.0.0 requires flask\\<3.1,>=2.3" in post.content  # the cap, escaped
    assert "flask-old" not in post.content and "fine" not in post.content.replace("Flask", "")
    assert_no_pings(post)

    for _ in range(2):
        await eco.restart()
        eco.clock.advance(hours=2)
        assert await eco.bot.get_cog("Radar").run_pass(all_due=True) == []
    assert len(radar_posts(eco)) == 1
    async with eco.db() as s:
        rows = (await s.scalars(select(RadarPost))).all()
    assert [(r.project, r.version, r.state, r.capped) for r in rows] == [("flask", "3.1.0", "posted", 1)]


async def test_a_process_killed_mid_post_leaves_a_lease_that_is_reclaimed_without_a_duplicate(eco):
    world(eco)
    await prime(eco)
    eco.pypi.add_release("Flask", "3.1.0", ago(hours=1))
    cog = eco.bot.get_cog("Radar")
    await cog.service.refresh_pass()  # the release is seen and queued ...

    async def dies(alert, reclaimed):  # ... and the poster dies before sending
        raise SystemExit("kill -9")

    with pytest.raises(SystemExit):
        await cog.service.post_pending(dies)
    await eco.restart()
    cog = eco.bot.get_cog("Radar")
    assert await cog.run_pass() == []  # the lease still holds: nobody else posts yet
    assert radar_posts(eco) == []
    eco.clock.advance(minutes=6)
    assert len(await cog.run_pass()) == 1
    assert len(radar_posts(eco)) == 1

    # Killed after sending but before recording it: the reclaimer finds its own post and doesn't repeat it.
    eco.pypi.add_release("Flask", "3.1.1", ago(minutes=30))
    await cog.service.refresh_pass()

    async def sends_then_dies(alert, reclaimed):
        await cog.send_alert(alert, reclaimed)
        raise SystemExit("kill -9")

    with pytest.raises(SystemExit):
        await cog.service.post_pending(sends_then_dies)
    await eco.restart()
    eco.clock.advance(minutes=6)
    await eco.bot.get_cog("Radar").run_pass()
    assert [p.content.splitlines()[0] for p in radar_posts(eco)] == [
        "**Compatibility radar: Flask 3.1.0**", "**Compatibility radar: Flask 3.1.1**"]
    async with eco.db() as s:
        states = {(r.version, r.state) for r in (await s.scalars(select(RadarPost))).all()}
    assert states == {("3.1.0", "posted"), ("3.1.1", "posted")}


async def test_health_for_one_project_and_the_org_from_the_database_only(eco):
    world(eco)
    await prime(eco)
    eco.pypi.add_release("Flask", "3.1.0", ago(hours=1))
    await eco.bot.get_cog("Radar").run_pass()
    gh_calls, pypi_calls = len(eco.github.requests), len(eco.pypi.requests)

    one = await eco.slash(eco.USER, "eco health", project="capped-repo")
    msg = await one.wait_message()
    assert msg.ephemeral
    fields = {f["name"]: f["value"] for f in msg.embeds[0]["fields"]}
    assert "Flask-Capped 2.0.0" in fields["Latest release"] and "(5 weeks ago)" in fields["Latest release"]
    assert "**excludes** Flask 3.1.0" in fields["Pallets requirements"]
    assert "click" not in fields["Pallets requirements"] or "Click" not in fields["Pallets requirements"]
    assert "failing" in fields["CI on main"] and "/actions/runs/" in fields["CI on main"]
    assert fields["Open"] == "1 issues, 2 pull requests"
    assert "Old PR" in fields["Oldest open pull request"] and "3 months ago" in fields["Oldest open pull request"]
    assert "excludes Flask 3.1.0" in fields["Flags"] and "CI run on main failed" in fields["Flags"]

    org = await eco.slash(eco.USER, "eco health")
    table = await org.wait_message()
    lines = table.embeds[0]["description"].splitlines()
    assert [line.split("]")[0].lstrip("[") for line in lines] == [
        "pallets-eco/capped-repo", "pallets-eco/flask-old", "pallets-eco/fine"]  # worst first
    assert "no release for 26 months, unreleased commits on main" in lines[1]
    assert "\u2705" in lines[2]
    assert (len(eco.github.requests), len(eco.pypi.requests)) == (gh_calls, pypi_calls)  # nothing asked


async def test_show_publicly_works_after_a_restart_and_only_for_the_person_who_asked(eco):
    world(eco)
    await prime(eco)
    ask = await eco.slash(eco.USER, "eco health", project="Flask-Capped")  # the PyPI name works too
    msg = await ask.wait_message()
    [(cid, label, _)] = msg.buttons()
    assert label == "Show publicly" and cid.startswith(f"eco:health:show:{eco.USER}:")

    await eco.restart()
    other = await eco.discord.click(eco.USER2, msg, cid)
    refused = await other.wait_message()
    assert refused.ephemeral and "Only the person who asked" in refused.text()

    mine = await eco.discord.click(eco.USER, msg, cid)
    await mine.wait_ack()
    public = mine.response_message
    assert not public.ephemeral and public.channel_id == eco.ECO_CHANNEL
    assert public.embeds[0]["title"] == "pallets-eco/capped-repo"
    assert_no_pings(public)


async def test_nothing_changed_costs_no_github_rate_limit(eco):
    world(eco)
    eco.github.add_repo(f"{ORG}/flask-docs-translations", owner_type="Organization")  # not on PyPI
    await prime(eco)
    eco.clock.advance(hours=2)
    asked = eco.pypi.count("GET", r"^/pypi/flask-docs-translations/json$")
    result = await eco.bot.get_cog("Radar").service.refresh_pass(all_due=True)
    assert result.projects == 4
    assert result.github.requests > 0 and result.github.counted == 0  # all 304s
    # A 404 carries no ETag: a project not on PyPI is asked again only with its monthly name check.
    assert eco.pypi.count("GET", r"^/pypi/flask-docs-translations/json$") == asked == 1


async def test_prereleases_are_posted_only_when_configured(make_harness):
    h = await make_harness(radar={"include_prereleases": True})
    h.clock.advance(seconds=(NOW - h.clock.now()).total_seconds())
    h.github.add_org(ORG)
    world(h)
    await prime(h)
    h.pypi.add_release("Flask", "3.1.0rc1", ago(minutes=5))
    alerts = await h.bot.get_cog("Radar").run_pass()
    assert [(a.core, a.version) for a in alerts] == [("flask", "3.1.0rc1")]
    assert radar_posts(h)[0].content.startswith("**Compatibility radar: Flask 3.1.0rc1**")


async def test_unknown_project_is_refused_politely(eco):
    world(eco)
    await prime(eco)
    ask = await eco.slash(eco.USER, "eco health", project="@everyone not-a-project")
    msg = await ask.wait_message()
    assert msg.ephemeral and "not a pallets-eco project I know of" in msg.text()
    assert_no_pings(msg)


async def test_the_org_table_fits_discord_limits_with_many_flagged_projects(eco):
    from bot.db.models.radar import RadarCore, RadarProject

    async with eco.db() as s:
        s.add(RadarCore(project="flask", version="3.0.3", seen_at=NOW))
        for n in range(120):
            s.add(RadarProject(
                repo_id=10_000 + n, full_name=f"{ORG}/flask-{'x' * 80}-{n}", default_branch="main",
                pypi_name=f"flask-{n}", on_pypi=True, version="1.0", released_at=ago(days=900),
                requires_json='[{"name": "flask", "spec": "<3", "extra": false}]', requires_dropped=0,
                ci_state="failure", unreleased_commits=True, issues_capped=False, checked_at=NOW))
        await s.commit()
    ask = await eco.slash(eco.USER, "eco health")
    embed = (await ask.wait_message()).embeds[0]
    assert len(embed["description"]) <= 4096 and "more: `/eco health project:` shows one." in embed["description"]
    assert sum(len(str(embed.get(k) or "")) for k in ("title", "description")) + len(embed["footer"]["text"]) <= 6000
    assert "120 projects flagged" in embed["footer"]["text"].replace("120 of 120", "120")
