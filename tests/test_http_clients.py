"""The GitHub and PyPI clients against their loopback fakes."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.github import GitHubClient
from bot.http import ApiError, HostNotAllowed, JsonApi, NotFound, RateLimited, Unavailable
from bot.pypi import PyPIClient, normalize
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    gh = FakeGitHub()
    await gh.start()
    yield gh
    await gh.close()


@pytest.fixture
async def fake_pypi() -> AsyncIterator[FakePyPI]:
    pypi = FakePyPI()
    await pypi.start()
    yield pypi
    await pypi.close()


def make_client(session: aiohttp.ClientSession, fake: FakeGitHub, **kw: object) -> GitHubClient:
    opts = {"retry_base_delay": 0.01, "timeout": 2.0, **kw}
    return GitHubClient(session, api_url=fake.api_url, web_url=fake.web_url, token=fake.bot_token, **opts)


@pytest.fixture
def gh(session: aiohttp.ClientSession, fake: FakeGitHub) -> GitHubClient:
    return make_client(session, fake)


@pytest.fixture
def pypi(session: aiohttp.ClientSession, fake_pypi: FakePyPI) -> PyPIClient:
    return PyPIClient(session, url=fake_pypi.url, retry_base_delay=0.01)


# --- repositories ---------------------------------------------------------------------------------


async def test_get_repo_maps_fields(gh: GitHubClient, fake: FakeGitHub) -> None:
    pushed = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    fake.add_repo("upstream/flask-thing", license="BSD-3-Clause")
    fake.add_repo(
        "alice/flask-thing",
        fork_of="upstream/flask-thing",
        description="A Flask thing",
        topics=("flask", "extension"),
        license="NOASSERTION",
        pushed_at=pushed,
        default_branch="develop",
    )

    repo = await gh.get_repo("alice", "flask-thing")

    assert repo.full_name == "alice/flask-thing"
    assert (repo.owner_login, repo.owner_type, repo.name) == ("alice", "User", "flask-thing")
    assert repo.fork and repo.parent_full_name == "upstream/flask-thing"
    assert repo.source_full_name == "upstream/flask-thing"
    assert repo.topics == ("flask", "extension")
    assert repo.license_spdx == "NOASSERTION"
    assert repo.pushed_at == pushed
    assert repo.default_branch == "develop"
    assert repo.description == "A Flask thing"
    assert repo.html_url.endswith("/alice/flask-thing")
    # The bot's own token says nothing about the requester's rights.
    assert repo.permissions_admin is None and repo.moved_from is None


async def test_get_repo_permissions_for_user_token(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("acme", members=["bob"], bot_is_admin=False)
    fake.add_repo("acme/flask-x", admins=["carol"], maintainers=["dave"], license=None)
    tokens = {login: fake.issue_token(login) for login in ("bob", "carol", "dave")}

    bob = await gh.get_repo("acme", "flask-x", token=tokens["bob"])
    carol = await gh.get_repo("acme", "flask-x", token=tokens["carol"])
    dave = await gh.get_repo("acme", "flask-x", token=tokens["dave"])

    assert bob.owner_type == "Organization" and bob.license_spdx is None
    assert (bob.permissions_admin, bob.permissions_maintain) == (False, False)
    assert (carol.permissions_admin, carol.permissions_maintain) == (True, True)
    assert (dave.permissions_admin, dave.permissions_maintain) == (False, True)


async def test_transferred_repo_follows_redirect(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("pallets-eco")
    stored = fake.add_repo("alice/flask-caching", readme="# Flask-Caching\n", workflows=("tests.yaml",))
    fake.transfer_repo("alice/flask-caching", "pallets-eco")

    repo = await gh.get_repo("alice", "flask-caching")

    assert repo.full_name == "pallets-eco/flask-caching"
    assert repo.id == stored["id"]
    assert repo.moved_from == "alice/flask-caching"
    assert fake.count("GET", rf"^/api/repositories/{stored['id']}$") == 1
    assert (await gh.get_repo_by_id(stored["id"])).owner_login == "pallets-eco"
    # Reads under the old name keep working, query string included.
    assert await gh.get_readme("alice", "flask-caching") == "# Flask-Caching\n"
    assert await gh.list_workflows("alice", "flask-caching") == [".github/workflows/tests.yaml"]
    assert fake.requests[-1].path.endswith("/actions/workflows") and fake.requests[-1].query == {"per_page": "100"}


async def test_missing_repo_is_not_found(gh: GitHubClient, fake: FakeGitHub) -> None:
    with pytest.raises(NotFound):
        await gh.get_repo("nobody", "nothing")
    with pytest.raises(NotFound):  # rejected before any request: it would walk up the URL
        await gh.get_repo("alice", "..")
    assert fake.count() == 1


async def test_private_repo_hidden_without_access(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("alice/secret", private=True)
    with pytest.raises(NotFound):
        await gh.get_repo("alice", "secret")
    repo = await gh.get_repo("alice", "secret", token=fake.issue_token("alice"))
    assert repo.private and repo.permissions_admin is True


async def test_contents_readme_and_workflows(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo(
        "alice/flask-docs",
        files={"docs/index.rst": "Welcome ✓\n" * 20, "src/flask_docs/__init__.py": ""},
        readme="# Flask-Docs\n",
        workflows=("publish.yaml",),
    )

    assert await gh.get_file("alice", "flask-docs", "docs/index.rst") == "Welcome ✓\n" * 20
    assert await gh.get_file("alice", "flask-docs", "docs") is None  # a directory, not a file
    assert await gh.get_file("alice", "flask-docs", "missing.txt") is None
    root = await gh.list_dir("alice", "flask-docs")
    assert root is not None
    assert {(e.name, e.type) for e in root} == {
        (".github", "dir"),
        ("README.md", "file"),
        ("docs", "dir"),
        ("src", "dir"),
    }
    assert await gh.list_dir("alice", "flask-docs", "tests") is None
    assert await gh.get_readme("alice", "flask-docs") == "# Flask-Docs\n"
    assert await gh.list_workflows("alice", "flask-docs") == [".github/workflows/publish.yaml"]

    fake.add_repo("alice/bare", files={"setup.py": ""})
    assert await gh.get_readme("alice", "bare") is None
    assert await gh.list_workflows("alice", "bare") == []


async def test_org_repos_paginate(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("pallets-eco")
    for n in range(103):
        fake.add_repo(f"pallets-eco/ext-{n:03}")
    fake.add_repo("pallets-eco/hidden", private=True)
    fake.add_repo("someone/else")

    repos = await gh.list_org_repos("pallets-eco")

    # The bot is an org admin in the fake, so it sees the private repository too.
    assert len(repos) == 104
    assert {r.owner_login for r in repos} == {"pallets-eco"}
    assert fake.count("GET", "/orgs/pallets-eco/repos") == 2


async def test_repo_issues_and_releases(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("pallets-eco/blinker", releases=[("1.8.0", datetime(2024, 4, 1, tzinfo=UTC)), "1.9.0"])
    fake.add_issue("pallets-eco/blinker", "Open one", labels=("docs",))
    fake.add_issue("pallets-eco/blinker", "Closed one", state="closed")

    issues = await gh.list_repo_issues("pallets-eco", "blinker")
    releases = await gh.list_releases("pallets-eco", "blinker")

    assert [(i.title, i.labels, i.repo_full_name) for i in issues] == [("Open one", ("docs",), "pallets-eco/blinker")]
    assert [r.tag for r in releases] == ["1.9.0", "1.8.0"]
    assert releases[1].published_at == datetime(2024, 4, 1, tzinfo=UTC)


# --- caching, retries, limits ----------------------------------------------------------------------


async def test_etag_304_served_from_cache_and_not_counted(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("alice/flask-foo")

    first = await gh.get_repo("alice", "flask-foo")
    second = await gh.get_repo("alice", "flask-foo")

    assert first == second
    assert [r.status for r in fake.requests] == [200, 304]
    assert (gh.stats.requests, gh.stats.not_modified, gh.stats.counted) == (2, 1, 1)
    assert fake.rate_limited_cost() == 1
    assert gh.rate_limit.remaining == 4999 and gh.rate_limit.resource == "core"

    fake.set_topics("alice/flask-foo", ["nonce-abc"])  # body changes, so does the ETag
    assert (await gh.get_repo("alice", "flask-foo")).topics == ("nonce-abc",)
    assert gh.stats.not_modified == 1


async def test_etag_cache_is_bounded(session: aiohttp.ClientSession, fake: FakeGitHub) -> None:
    for name in ("a", "b", "c"):
        fake.add_repo(f"alice/{name}")
    api = JsonApi(session, fake.api_url, user_agent="test", cache_size=2, retry_base_delay=0.01)
    for name in ("a", "b", "c", "a"):
        await api.request("GET", f"/repos/alice/{name}")
    # "a" was evicted by "c", so the last request was unconditional.
    assert api.stats.not_modified == 0
    assert (await api.request("GET", "/repos/alice/c")).from_cache


async def test_retry_on_500_then_success(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("alice/flask-foo")
    fake.fail("GET", r"/repos/alice/flask-foo$", 500)

    repo = await gh.get_repo("alice", "flask-foo")

    assert repo.name == "flask-foo"
    assert [r.status for r in fake.requests] == [500, 200]
    assert gh.stats.retries == 1 and gh.stats.errors == 0


async def test_502_exhausted_is_unavailable(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("alice/flask-foo")
    fake.fail("GET", r"/repos/alice/flask-foo$", 502, times=5)

    with pytest.raises(Unavailable) as info:
        await gh.get_repo("alice", "flask-foo")

    assert info.value.status == 502
    assert fake.count("GET") == 3  # first try + 2 retries
    assert gh.stats.errors == 1


async def test_4xx_is_never_retried(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.fail("GET", "/repos/alice/x$", 422, times=5)
    with pytest.raises(ApiError) as info:
        await gh.get_repo("alice", "x")
    assert info.value.status == 422 and fake.count() == 1


async def test_malformed_json_is_unavailable(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("alice/flask-foo")
    fake.fail("GET", r"/repos/alice/flask-foo$", 200, body="not json")
    with pytest.raises(Unavailable):
        await gh.get_repo("alice", "flask-foo")


async def test_403_retry_after_is_rate_limited(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.fail("GET", "/search/issues", 403, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as info:
        await gh.search_issues("is:issue org:pallets-eco")
    assert info.value.retry_after == 30
    assert timedelta(seconds=25) < info.value.reset_at - datetime.now(UTC) <= timedelta(seconds=30)
    assert fake.count() == 1


async def test_429_with_reset_is_rate_limited(gh: GitHubClient, fake: FakeGitHub) -> None:
    reset = int(time.time()) + 120
    fake.fail("GET", "/repos/", 429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    with pytest.raises(RateLimited) as info:
        await gh.get_repo("alice", "flask-foo")
    assert info.value.reset_at == datetime.fromtimestamp(reset, UTC)
    assert 100 < info.value.retry_after <= 120


async def test_primary_limit_exhausted_in_fake(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("alice/flask-foo")
    fake.set_rate_limit(0, login=fake.bot_login)
    with pytest.raises(RateLimited) as info:
        await gh.get_repo("alice", "flask-foo")
    assert info.value.status == 403 and info.value.reset_at > datetime.now(UTC)


async def test_plain_403_is_forbidden(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("pallets-eco", bot_is_admin=False)
    fake.add_user("newbie")
    with pytest.raises(ApiError) as info:
        await gh.invite_to_org("pallets-eco", "newbie", token=None)
    assert type(info.value).__name__ == "Forbidden" and fake.invitations == []


async def test_timeout_is_unavailable(session: aiohttp.ClientSession, fake: FakeGitHub) -> None:
    fake.add_repo("alice/flask-foo")
    fake.latency = 0.5
    client = make_client(session, fake, timeout=0.1, retries=1)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await client.get_repo("alice", "flask-foo")
    assert time.monotonic() - started < 0.45
    assert client.stats.requests == 2


@pytest.mark.parametrize("mode", [True, "close"])
async def test_outage_is_unavailable(gh: GitHubClient, fake: FakeGitHub, mode: bool | str) -> None:
    fake.add_repo("alice/flask-foo")
    fake.down = mode
    with pytest.raises(Unavailable):
        await gh.get_repo("alice", "flask-foo")
    assert gh.stats.requests == 3
    fake.down = False
    assert (await gh.get_repo("alice", "flask-foo")).name == "flask-foo"


async def test_redirect_to_other_host_is_refused(gh: GitHubClient, fake: FakeGitHub) -> None:
    other = FakeGitHub()
    await other.start()
    try:
        fake.fail("GET", "/repos/alice/moved$", 301, headers={"Location": f"{other.api_url}/repositories/1"})
        with pytest.raises(HostNotAllowed):
            await gh.get_repo("alice", "moved")
        assert other.count() == 0
    finally:
        await other.close()


async def test_absolute_or_unconfigured_urls_are_refused(session: aiohttp.ClientSession, fake: FakeGitHub) -> None:
    api = JsonApi(session, fake.api_url, user_agent="test")
    for path in (f"{fake.web_url}/login", "//evil.example/x", "repos/x"):
        with pytest.raises(HostNotAllowed):
            await api.request("GET", path)
    with pytest.raises(HostNotAllowed):
        await api.request("GET", "/user", base_url=fake.web_url)
    assert fake.count() == 0


# --- organisation membership ------------------------------------------------------------------------


async def test_invite_and_membership_states(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("pallets-eco", members=["old-timer"], public_members=["famous"])
    fake.add_user("newbie")

    assert await gh.org_membership("pallets-eco", "newbie", token=None) == "none"
    assert await gh.invite_to_org("pallets-eco", "newbie", token=None) == "pending"
    assert fake.invitations == [("pallets-eco", "newbie", "member", fake.bot_login)]
    assert await gh.org_membership("pallets-eco", "newbie", token=None) == "pending"
    assert not await gh.is_org_member("pallets-eco", "newbie")

    fake.accept_invitation("pallets-eco", "newbie")
    assert await gh.org_membership("pallets-eco", "newbie", token=None) == "active"
    assert await gh.is_org_member("pallets-eco", "newbie")
    assert await gh.invite_to_org("pallets-eco", "old-timer", token=None) == "active"
    assert await gh.is_public_org_member("pallets-eco", "famous")
    assert not await gh.is_public_org_member("pallets-eco", "old-timer")


async def test_is_org_member_when_bot_is_outside_org(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("elsewhere", members=["bob"], bot_is_admin=False)
    # GitHub redirects non-members to the public check; the client must not follow it.
    assert not await gh.is_org_member("elsewhere", "bob")
    assert fake.count(path_regex="public_members") == 0


# --- search -------------------------------------------------------------------------------------------


async def test_search_filters_like_github(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_org("pallets-eco")
    fake.add_repo("pallets-eco/flask-mail")
    fake.add_repo("pallets-eco/old", archived=True)
    fake.add_repo("someone/flask-other")
    day = datetime(2025, 1, 1, tzinfo=UTC)
    add = fake.add_issue
    add("pallets-eco/flask-mail", "docs typo", labels=("docs",), updated_at=day)
    add("pallets-eco/flask-mail", "crash", labels=("bug",), updated_at=day + timedelta(days=2))
    add("pallets-eco/flask-mail", "assigned", labels=("docs",), assignees=("maint",))
    add("pallets-eco/flask-mail", "has pr", labels=("docs",), linked_pr=True)
    add("pallets-eco/flask-mail", "a pr", labels=("docs",), is_pr=True)
    add("pallets-eco/flask-mail", "closed", labels=("docs",), state="closed")
    add("pallets-eco/flask-mail", "feature", labels=("enhancement",))
    add("pallets-eco/flask-mail", "two words", labels=("good first issue",), updated_at=day + timedelta(days=1))
    add("pallets-eco/old", "archived", labels=("docs",))
    add("someone/flask-other", "elsewhere", labels=("docs",))
    base = "org:pallets-eco is:issue is:open archived:false no:assignee -linked:pr"

    either = await gh.search_issues(f"{base} label:docs,bug")
    quoted = await gh.search_issues(f'{base} label:"good first issue"')
    both = await gh.search_issues(f"{base} label:docs label:bug")

    assert [i.title for i in either.items] == ["crash", "docs typo"]  # updated, newest first
    assert either.total_count == 2 and not either.incomplete_results
    assert [i.title for i in quoted.items] == ["two words"]
    assert quoted.items[0].repo_full_name == "pallets-eco/flask-mail"
    assert both.items == []
    assert gh.rate_limit.resource == "search" and gh.rate_limit.remaining == 27


async def test_search_pages_and_issue_fields(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo("pallets-eco/flask-mail")
    created = datetime(2024, 3, 1, tzinfo=UTC)
    for n in range(5):
        fake.add_issue(
            "pallets-eco/flask-mail",
            f"issue {n}",
            created_at=created + timedelta(days=n),
            comments=n,
            assignees=("x",),
            author="reporter",
            author_association="CONTRIBUTOR",
        )
    fake.add_issue("pallets-eco/flask-mail", "pull", is_pr=True)

    page2 = await gh.search_issues("repo:pallets-eco/flask-mail is:issue", page=2, per_page=2)
    recent = await gh.search_issues("repo:pallets-eco/flask-mail is:issue created:>=2024-03-04")
    prs = await gh.search_issues("repo:pallets-eco/flask-mail is:pr")

    assert page2.total_count == 5 and [i.title for i in page2.items] == ["issue 2", "issue 1"]
    issue = page2.items[0]
    assert (issue.number, issue.comments, issue.assignees, issue.user_login) == (3, 2, ("x",), "reporter")
    assert issue.author_association == "CONTRIBUTOR" and issue.state == "open"
    assert issue.created_at == created + timedelta(days=2) and not issue.is_pull_request
    assert issue.html_url.endswith("/pallets-eco/flask-mail/issues/3")
    assert [i.title for i in recent.items] == ["issue 4", "issue 3"]
    assert [(i.title, i.is_pull_request) for i in prs.items] == [("pull", True)]


async def test_search_rejects_what_github_rejects(gh: GitHubClient, fake: FakeGitHub) -> None:
    with pytest.raises(ApiError) as info:
        await gh.search_issues("org:pallets-eco label:docs")  # no is:issue / is:pr
    assert info.value.status == 422
    with pytest.raises(ApiError) as info:
        await gh.search_issues("org:pallets-eco is:issue", page=11, per_page=100)
    assert info.value.status == 422


# --- device flow -------------------------------------------------------------------------------------


async def test_device_flow_sequence_and_revoke(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_user("alice", id=4242)
    fake.device_flow_script(["authorization_pending", "slow_down", ("token", "alice")])

    code = await gh.request_device_code(fake.client_id)
    assert code.verification_uri == f"{fake.web_url}/login/device"
    assert (code.expires_in, code.interval) == (900, 5)
    assert code.device_code not in repr(code)

    results = [await gh.poll_device_token(fake.client_id, code.device_code) for _ in range(3)]
    assert [r.error for r in results] == ["authorization_pending", "slow_down", None]
    assert results[1].interval == 10
    token = results[2].access_token
    assert token and token not in repr(results[2]) and token not in str(results[2])

    user = await gh.get_authenticated_user(token)
    assert (user.id, user.login) == (4242, "alice")

    assert await gh.revoke_token(fake.client_id, fake.client_secret, token)
    assert fake.revocations == ["alice"]
    assert not await gh.revoke_token(fake.client_id, fake.client_secret, token)
    with pytest.raises(ApiError) as info:
        await gh.get_authenticated_user(token)
    assert info.value.status == 401


@pytest.mark.parametrize("outcome", ["expired_token", "access_denied"])
async def test_device_flow_terminal_errors(gh: GitHubClient, fake: FakeGitHub, outcome: str) -> None:
    code = await gh.request_device_code(fake.client_id)
    fake.device_flow_script([outcome], user_code=code.user_code)
    result = await gh.poll_device_token(fake.client_id, code.device_code)
    assert (result.error, result.access_token) == (outcome, None)
    # The code is spent: further polls cannot turn it into a token.
    fake.add_user("mallory")
    again = await gh.poll_device_token(fake.client_id, code.device_code)
    assert again.error == "incorrect_device_code"


async def test_device_flow_approval(gh: GitHubClient, fake: FakeGitHub) -> None:
    code = await gh.request_device_code(fake.client_id)
    assert (await gh.poll_device_token(fake.client_id, code.device_code)).error == "authorization_pending"
    fake.approve_device(code.user_code, "bob")
    result = await gh.poll_device_token(fake.client_id, code.device_code)
    assert result.access_token and fake.tokens[result.access_token] == "bob"
    assert (await gh.poll_device_token("wrong-client", code.device_code)).error == "incorrect_device_code"


# --- secrets -------------------------------------------------------------------------------------------


async def test_token_never_leaks(gh: GitHubClient, fake: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.http")
    user_token = fake.issue_token("alice")
    fake.fail("GET", "/repos/", 403, headers={"Retry-After": "5"})
    fake.fail("GET", "/repos/", 500, times=3)
    errors: list[Exception] = []
    for _ in range(3):
        try:
            await gh.get_repo("alice", "nope", token=user_token)
        except ApiError as exc:
            errors.append(exc)

    assert [type(e).__name__ for e in errors] == ["RateLimited", "Unavailable", "NotFound"]
    texts = [repr(gh), *(repr(e) for e in errors), *(str(e) for e in errors), caplog.text]
    for secret in (user_token, fake.bot_token):
        assert all(secret not in t for t in texts)
    assert "GET /repos/alice/nope -> 404" in caplog.text


# --- PyPI ----------------------------------------------------------------------------------------------


async def test_pypi_project_with_roles(pypi: PyPIClient, fake_pypi: FakePyPI) -> None:
    fake_pypi.add_project(
        "Flask-Caching",
        version="2.3.0",
        requires_dist=("Flask", "cachelib>=0.9.0"),
        classifiers=("Framework :: Flask",),
        project_urls={"Source": "https://github.com/pallets-eco/flask-caching"},
        roles=(("Owner", "alice"), ("Maintainer", "bob")),
        organization="pallets",
        releases={"2.2.0": datetime(2024, 4, 1, tzinfo=UTC)},
        license_expression="BSD-3-Clause",
    )
    fake_pypi.add_release("Flask-Caching", "2.3.1", datetime(2025, 2, 1, tzinfo=UTC))

    project = await pypi.get_project("Flask-Caching")

    assert (project.name, project.version) == ("Flask-Caching", "2.3.1")
    assert project.requires_dist == ("Flask", "cachelib>=0.9.0")
    assert project.classifiers == ("Framework :: Flask",)
    assert project.project_urls["Source"] == "https://github.com/pallets-eco/flask-caching"
    assert [(r.role, r.user) for r in project.roles] == [("Owner", "alice"), ("Maintainer", "bob")]
    assert project.users_with_role("owner") == ("alice",)
    assert project.organization == "pallets" and project.license_expression == "BSD-3-Clause"
    assert project.last_release_at == datetime(2025, 2, 1, tzinfo=UTC)
    releases = (await pypi.get_index("Flask-Caching")).releases()  # the JSON `releases` key is deprecated
    assert releases["2.2.0"] == datetime(2024, 4, 1, tzinfo=UTC)
    assert set(releases) == {"2.2.0", "2.3.0", "2.3.1"}


async def test_pypi_other_spelling_and_etag(pypi: PyPIClient, fake_pypi: FakePyPI) -> None:
    fake_pypi.add_project("Flask-Caching", roles=())
    assert normalize("Flask_Caching") == "flask-caching" == normalize("flask.caching")

    first = await pypi.get_project("Flask_Caching")
    again = await pypi.get_project("Flask_Caching")

    assert first.name == again.name == "Flask-Caching" and first.roles == ()
    # Asked for by its normalised name: no redirect (PyPI would redirect to `flask-caching`).
    assert [r.status for r in fake_pypi.requests] == [200, 304]
    assert pypi.stats.not_modified == 1


async def test_pypi_missing_project(pypi: PyPIClient, fake_pypi: FakePyPI) -> None:
    with pytest.raises(NotFound):
        await pypi.get_project("no-such-project")
    with pytest.raises(NotFound):
        await pypi.get_project("../../etc")
    assert fake_pypi.count() == 2  # the JSON 404, then the simple index (a quarantined project 404s too)


async def test_pypi_status(pypi: PyPIClient, fake_pypi: FakePyPI) -> None:
    fake_pypi.add_project("croniter", status="archived")
    fake_pypi.add_project("Flask-Mail")

    assert await pypi.get_status("croniter") == "archived"
    assert await pypi.get_status("Flask_Mail") is None
    assert fake_pypi.count(path_regex="^/simple/flask-mail/$") == 1
    fake_pypi.set_status("Flask-Mail", "deprecated")
    assert await pypi.get_status("flask-mail") == "deprecated"


async def test_pypi_retries_and_outage(pypi: PyPIClient, fake_pypi: FakePyPI) -> None:
    fake_pypi.add_project("blinker")
    fake_pypi.fail("GET", "/pypi/", 503)
    assert (await pypi.get_project("blinker")).name == "blinker"
    fake_pypi.down = True
    with pytest.raises(Unavailable):
        await pypi.get_project("blinker")
