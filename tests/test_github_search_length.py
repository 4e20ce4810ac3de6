"""GitHub search refuses queries longer than 256 characters ("Queries longer than 256 characters are not
supported", docs.github.com/en/search-github/getting-started-with-searching-on-github/troubleshooting-search-
queries). The fake answers 422 like the API; the bot refuses, at start, a `contribute.labels` list whose
issue search would be refused, instead of finding no beginner issues at all."""

from __future__ import annotations

import aiohttp
import pytest

from bot.config import ConfigError, parse_settings
from bot.services.suggestions_refresh import search_query
from tests.fakes.github import FakeGitHub

BASE = {"discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]}}
ENV = {"DISCORD_TOKEN": "x"}
MANY = [f"a-longer-label-name-{n}" for n in range(12)]


async def test_fake_search_refuses_a_query_over_256_characters() -> None:
    fake = FakeGitHub()
    fake.add_org("pallets-eco")
    async with fake, aiohttp.ClientSession() as session:
        ok = "org:pallets-eco is:issue " + "x" * (256 - 25)
        async with session.get(f"{fake.api_url}/search/issues", params={"q": ok}) as resp:
            assert len(ok) == 256 and resp.status == 200
        async with session.get(f"{fake.api_url}/search/issues", params={"q": ok + "y"}) as resp:
            body = await resp.json()
            assert resp.status == 422 and "256 characters" in body["errors"][0]["message"]


def test_labels_that_make_the_search_too_long_are_refused_at_start() -> None:
    assert len(search_query("pallets-eco", MANY)) > 256
    with pytest.raises(ConfigError) as exc:
        parse_settings({**BASE, "contribute": {"labels": MANY}}, ENV)
    assert "contribute.labels" in str(exc.value) and "256" in str(exc.value)
    settings = parse_settings({**BASE, "contribute": {"labels": MANY[:4]}}, ENV)  # fits: accepted
    assert len(search_query(settings.github.org, settings.contribute.labels)) <= 256


async def test_fake_search_that_times_out_says_so_and_returns_what_it_found() -> None:
    fake = FakeGitHub()
    fake.add_org("pallets-eco")
    fake.add_repo("pallets-eco/flask-foo", owner_type="Organization")
    for n in range(4):
        fake.add_issue("pallets-eco/flask-foo", f"issue {n}", author="carol")
    fake.search_timeouts = 1
    q = {"q": "org:pallets-eco author:carol is:issue"}
    async with fake, aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_url}/search/issues", params=q) as resp:
            partial = await resp.json()
        async with session.get(f"{fake.api_url}/search/issues", params=q) as resp:
            full = await resp.json()
    assert (partial["incomplete_results"], partial["total_count"], len(partial["items"])) == (True, 2, 2)
    assert (full["incomplete_results"], full["total_count"]) == (False, 4)
