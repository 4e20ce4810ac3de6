"""Self-tests of the fake GitHub routes the radar reads: workflow runs by branch (newest first, under
`workflow_runs`), commits of a branch since a time, repository issues sorted by `sort`/`direction`, and
conditional answers (304 with the ETag, free when authenticated). Sources next to each route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from tests.fakes.github import FakeGitHub

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_runs_commits_and_sorted_issues():
    fake = FakeGitHub()
    token = fake.issue_token("alice")
    fake.add_repo("pallets-eco/x", owner_type="Organization")
    fake.add_workflow_run("pallets-eco/x", "success", created_at=NOW - timedelta(days=2))
    fake.add_workflow_run("pallets-eco/x", "failure", created_at=NOW - timedelta(days=1))
    fake.add_workflow_run("pallets-eco/x", "success", branch="feature", created_at=NOW)
    fake.add_commit("pallets-eco/x", NOW - timedelta(days=10))
    fake.add_commit("pallets-eco/x", NOW - timedelta(days=1), branch="feature")
    fake.add_issue("pallets-eco/x", "new", created_at=NOW - timedelta(days=1))
    fake.add_issue("pallets-eco/x", "old", is_pr=True, created_at=NOW - timedelta(days=50))
    headers = {"Authorization": f"Bearer {token}"}
    async with fake, aiohttp.ClientSession(headers=headers) as http:
        base = f"{fake.api_url}/repos/pallets-eco/x"
        async with http.get(f"{base}/actions/runs", params={"branch": "main", "per_page": "1"}) as resp:
            runs = await resp.json()
            etag = resp.headers["ETag"]
        assert runs["total_count"] == 2 and [r["conclusion"] for r in runs["workflow_runs"]] == ["failure"]
        async with http.get(f"{base}/actions/runs", params={"branch": "main", "per_page": "1"},
                            headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304 and resp.headers["X-RateLimit-Remaining"] == "4999"
        since = (NOW - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        async with http.get(f"{base}/commits", params={"sha": "main", "since": since}) as resp:
            assert len(await resp.json()) == 1
        since = (NOW - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        async with http.get(f"{base}/commits", params={"sha": "main", "since": since}) as resp:
            assert await resp.json() == []
        async with http.get(f"{base}/issues", params={"sort": "created", "direction": "asc"}) as resp:
            items = await resp.json()
        assert [i["title"] for i in items] == ["old", "new"] and "pull_request" in items[0]
        async with http.get(f"{base}/issues") as resp:  # default: newest first
            assert [i["title"] for i in await resp.json()] == ["new", "old"]
