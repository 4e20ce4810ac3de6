"""Self-tests of what the fake GitHub gained for `/eco join` (issue 16), each as GitHub documents it
(sources next to the handlers in tests/fakes/github.py): a user's public `created_at`, team memberships
(admins only, "pending" until the org invitation is accepted, 404 for an unknown team), and the
`author:` / `is:merged` search qualifiers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.fakes.github import FakeGitHub

ADMIN = "ghs_admin"


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeGitHub, aiohttp.ClientSession]]:
    fake = FakeGitHub()
    fake.add_org("pallets-eco", admins=["org-admin"])
    fake.tokens[ADMIN] = "org-admin"
    fake.add_user("carol")["created_at"] = datetime(2019, 3, 1, tzinfo=UTC)
    fake.add_team("pallets-eco", "flask-foo-maintainers")
    async with fake, aiohttp.ClientSession() as session:
        yield fake, session


async def test_user_created_at_and_unknown_user(world):
    fake, session = world
    async with session.get(f"{fake.api_url}/users/carol") as resp:
        assert resp.status == 200 and (await resp.json())["created_at"].startswith("2019-03-01")
    async with session.get(f"{fake.api_url}/users/nobody-here") as resp:
        assert resp.status == 404


async def test_team_membership_rules(world):
    fake, session = world
    url = f"{fake.api_url}/orgs/pallets-eco/teams/flask-foo-maintainers/memberships/carol"
    async with session.put(url, json={"role": "member"}) as resp:
        assert resp.status == 401
    fake.tokens["ghs_member"] = "dave"
    fake.add_member("pallets-eco", "dave")
    async with session.put(url, json={}, headers={"Authorization": "Bearer ghs_member"}) as resp:
        assert resp.status == 403
    async with session.put(url, json={}, headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
        assert resp.status == 200 and (await resp.json())["state"] == "pending"  # not in the org yet
    fake.add_member("pallets-eco", "carol")
    async with session.put(url, json={}, headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
        assert (await resp.json())["state"] == "active"
    async with session.put(url.replace("flask-foo-maintainers", "no-such-team"), json={},
                           headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
        assert resp.status == 404


async def test_author_and_merged_qualifiers(world):
    fake, session = world
    fake.add_repo("pallets-eco/flask-foo", owner_type="Organization")
    fake.add_issue("pallets-eco/flask-foo", "merged one", is_pr=True, state="closed", author="carol")["merged"] = True
    fake.add_issue("pallets-eco/flask-foo", "closed unmerged", is_pr=True, state="closed", author="carol")
    fake.add_issue("pallets-eco/flask-foo", "not hers", is_pr=True, state="closed", author="dave")["merged"] = True

    async def titles(q: str) -> list[str]:
        async with session.get(f"{fake.api_url}/search/issues", params={"q": q}) as resp:
            return [i["title"] for i in (await resp.json())["items"]]

    assert await titles("org:pallets-eco author:carol is:pr is:merged") == ["merged one"]
    assert sorted(await titles("org:pallets-eco author:CAROL is:pr")) == ["closed unmerged", "merged one"]
