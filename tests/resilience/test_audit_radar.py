"""Audit of `/eco health`: a workflow run's `html_url` is outside data. One that starts with the
configured GitHub web URL but carries a `)` (or spaces, `<`, `>`) would close the CI link early and
put a working masked link to another host into the embed: such a link is dropped, never rendered."""

from __future__ import annotations

import re

import pytest

from tests.resilience.test_radar import ORG, ago, eco, prime  # noqa: F401 - the fixture

LINKS = re.compile(r"\]\(<?([^)>\s]+)")


@pytest.mark.parametrize("html_url", [
    "{web}/pallets-eco/flask-x/actions/runs/1) [Sign in again](https://evil.example/login",
    "{web}/pallets-eco/flask-x/actions/runs/1 \"title\") [x](https://evil.example",
    "{web}/x>[x](https://evil.example)",
    "{web}/x\n[x](https://evil.example)",
])
async def test_a_workflow_link_that_breaks_out_of_its_markdown_is_dropped(eco, html_url):  # noqa: F811
    gh, pypi, web = eco.github, eco.pypi, eco.settings.github.web_url
    gh.add_repo(f"{ORG}/flask-x", owner_type="Organization", pushed_at=ago(days=1))
    pypi.add_project("flask-x", version="1.0", requires_dist=["flask>=2"], releases={"1.0": ago(days=3)})
    gh.fail("GET", r"/actions/runs$", 200, times=5, body={"total_count": 1, "workflow_runs": [
        {"status": "completed", "conclusion": "failure", "html_url": html_url.format(web=web)}]})
    await prime(eco)
    ask = await eco.slash(eco.USER, "eco health", project="flask-x")
    embed = (await ask.wait_message()).embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "evil.example" not in str(embed)
    assert fields["CI on main"] == "failing"
    assert all(url.startswith((web + "/", "https://pypi.org/")) for url in LINKS.findall(str(embed)))


async def test_a_plain_workflow_link_into_github_is_still_shown(eco):  # noqa: F811
    gh, pypi = eco.github, eco.pypi
    gh.add_repo(f"{ORG}/flask-x", owner_type="Organization", pushed_at=ago(days=1))
    pypi.add_project("flask-x", version="1.0", requires_dist=["flask>=2"], releases={"1.0": ago(days=3)})
    run = gh.add_workflow_run(f"{ORG}/flask-x", "failure")
    await prime(eco)
    ask = await eco.slash(eco.USER, "eco health", project="flask-x")
    fields = {f["name"]: f["value"] for f in (await ask.wait_message()).embeds[0]["fields"]}
    assert fields["CI on main"] == f"[failing]({eco.settings.github.web_url}/{ORG}/flask-x/actions/runs/{run['id']})"
