"""Hostile PyPI and GitHub data on the radar's way to Discord: requirement strings that are huge, nested,
many, or written to ping and format; a workflow run link off GitHub; a pull request title with markdown.
All bounded, none rendered raw."""

from __future__ import annotations

import time

from tests.resilience._support import assert_no_pings
from tests.resilience.test_radar import ORG, ago, eco, prime  # noqa: F401 - the fixture

PING = "**@everyone**<@&900000000000000100>"
NESTED = "flask<3.1 ; " + "(" * 200 + 'python_version > "3"' + ")" * 200  # under the length cap, deep
HOSTILE = [
    f"flask==={PING}",  # arbitrary equality (PEP 440 `===`) keeps any non-space text: a "cap" of raw text
    "flask" + " " * 100_000 + "<3.1",  # huge
    "flask<3.1 ; " + "(" * 5000 + 'python_version > "3"' + ")" * 5000,  # over the length cap
    NESTED,
    *(f"flask<{n}.0" for n in range(1, 5000)),  # thousands
]


async def test_hostile_requirements_are_bounded_and_escaped_in_the_post_and_in_health(eco):  # noqa: F811
    gh, pypi = eco.github, eco.pypi
    gh.add_repo(f"{ORG}/evil", owner_type="Organization", pushed_at=ago(days=1))
    pypi.add_project("evil", version="6.6.6", requires_dist=HOSTILE, releases={"6.6.6": ago(days=3)})
    run = gh.add_workflow_run(f"{ORG}/evil", "failure")
    gh.add_issue(f"{ORG}/evil", f"{PING} [click](https://evil.example) # heading", is_pr=True, created_at=ago(days=9))
    pypi.add_project("Flask", version="3.0.3", releases={"3.0.3": ago(days=100)})
    started = time.perf_counter()
    await prime(eco)
    assert time.perf_counter() - started < 10
    pypi.add_release("Flask", "3.1.0", ago(hours=1))
    await eco.bot.get_cog("Radar").run_pass()

    [post] = [m for m in eco.discord.messages_in(eco.REVIEW_CHANNEL) if "Compatibility radar" in m.content]
    assert len(post.content) <= 2000
    assert_no_pings(post)
    assert "flask===\\*\\*@\u200beveryone\\*\\*\\<@\u200b&900000000000000100>" in post.content
    assert "https://evil.example" not in post.content

    ask = await eco.slash(eco.USER, "eco health", project="evil")
    msg = await ask.wait_message()
    assert_no_pings(msg)
    fields = {f["name"]: f["value"] for f in msg.embeds[0]["fields"]}
    assert all(len(v) <= 1024 for v in fields.values())
    reqs = fields["Pallets requirements"].splitlines()
    assert len(reqs) <= 11 and "unreadable, not shown" in reqs[-1]  # at most 10 shown, the rest counted
    assert "@everyone" not in str(msg.embeds) and "<@&" not in str(msg.embeds).replace("\\<@\u200b&", "")
    oldest = fields["Oldest open pull request"]
    assert "\\[click\\](https://evil.example)" in oldest and "\\*\\*@\u200beveryone" in oldest
    # The run link is kept only because it points into the configured GitHub.
    assert f"/actions/runs/{run['id']})" in fields["CI on main"]


async def test_a_workflow_link_off_github_is_not_rendered(eco):  # noqa: F811
    gh, pypi = eco.github, eco.pypi
    gh.add_repo(f"{ORG}/flask-x", owner_type="Organization", pushed_at=ago(days=1))
    pypi.add_project("flask-x", version="1.0", requires_dist=["flask>=2"], releases={"1.0": ago(days=3)})
    gh.fail("GET", r"/actions/runs$", 200, times=5, body={"total_count": 1, "workflow_runs": [
        {"status": "completed", "conclusion": "failure", "html_url": "javascript:alert(1)//https://github.com/"}]})
    await prime(eco)
    ask = await eco.slash(eco.USER, "eco health", project="flask-x")
    fields = {f["name"]: f["value"] for f in (await ask.wait_message()).embeds[0]["fields"]}
    assert fields["CI on main"] == "failing"
