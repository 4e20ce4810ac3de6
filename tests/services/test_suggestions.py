"""SuggestionService against the fake GitHub and a real SQLite file: what a newcomer is offered,
in which order, what a refresh costs, and the weekly digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import parse_settings
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.contribute import CachedIssue, DigestLog, RefreshState
from bot.errors import InvalidInput
from bot.github import GitHubClient
from bot.services.suggestions import SearchPacer, SuggestionService, search_query, week_key
from tests.dburl import database_url
from tests.fakes.github import FakeGitHub

ORG = "pallets-eco"
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


class Sleeps:
    """Records waits instead of sleeping, so rate-limit handling is testable in milliseconds."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class World:
    def __init__(self, fake: FakeGitHub, make, clock: FakeClock, sleeps: Sleeps, db) -> None:
        self.fake, self.make, self.clock, self.sleeps, self.db = fake, make, clock, sleeps, db
        self.service: SuggestionService = make()

    def restart(self) -> SuggestionService:
        self.service = self.make()
        return self.service

    def make_with(self, **sections) -> SuggestionService:
        """Another service over the same cache, with some settings changed."""
        return self.make(**sections)


@pytest.fixture
async def world(tmp_path):
    fake = FakeGitHub()
    await fake.start()
    fake.add_org(ORG)
    engine = create_engine(database_url(tmp_path, "s"))
    await migrate.upgrade(engine)
    db = create_session_factory(engine)
    clock = FakeClock(NOW)
    sleeps = Sleeps()
    raw = {
        "discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]},
        "github": {"org": ORG, "api_url": fake.api_url, "web_url": fake.web_url},
    }
    async with aiohttp.ClientSession() as http:
        github = GitHubClient(http, api_url=fake.api_url, web_url=fake.web_url, token=fake.bot_token, retries=0)

        def make(**sections) -> SuggestionService:
            settings = parse_settings(raw | sections, {"DISCORD_TOKEN": "x", "GITHUB_TOKEN": fake.bot_token})
            return SuggestionService(db, github, clock, settings, pacer=SearchPacer(sleep=sleeps))

        yield World(fake, make, clock, sleeps, db)
    await engine.dispose()
    await fake.close()


def titles(result) -> list[str]:
    return [s.title for s in result.items]


def add_repo(world: World, name: str, **kw):
    kw.setdefault("pushed_at", ago(days=3))
    return world.fake.add_repo(f"{ORG}/{name}", owner_type="Organization", **kw)


# ------------------------------------------------------------------ filtering


async def test_only_open_unassigned_unlinked_issues_in_live_repos_are_suggested(world):
    add_repo(world, "flask-mail")
    add_repo(world, "flask-old", archived=True)
    fake = world.fake
    fake.add_issue(f"{ORG}/flask-mail", "Good one", labels=["good first issue"], created_at=ago(days=2))
    fake.add_issue(f"{ORG}/flask-mail", "Assigned", labels=["good first issue"], assignees=["bob"])
    fake.add_issue(f"{ORG}/flask-mail", "Has a PR", labels=["good first issue"], linked_pr=True)
    fake.add_issue(f"{ORG}/flask-mail", "A pull request", labels=["good first issue"], is_pr=True)
    fake.add_issue(f"{ORG}/flask-mail", "Closed", labels=["good first issue"], state="closed")
    fake.add_issue(f"{ORG}/flask-mail", "Not for beginners", labels=["bug"])
    fake.add_issue(f"{ORG}/flask-old", "In an archived repo", labels=["good first issue"])

    result = await world.service.refresh()
    assert result.ok, result.error
    answer = await world.service.suggest(1)
    assert titles(answer) == ["Good one"]
    assert answer.items[0].url.endswith("/flask-mail/issues/1")


async def test_cache_rows_that_break_the_rules_are_never_shown(world):
    """The search already excludes these; the filter holds even if a row slips into the cache."""
    add_repo(world, "flask-mail")
    await world.service.refresh()
    base = dict(
        repo_full_name=f"{ORG}/flask-mail", url="u", labels_json=json.dumps(["docs"]), comments=0,
        author_association="NONE", created_at=ago(days=1), updated_at=ago(days=1), seen_at=NOW,
    )
    async with world.db() as s:
        s.add_all([
            CachedIssue(id=1, number=1, title="ok", **base),
            CachedIssue(id=2, number=2, title="assigned", assignees=1, **base),
            CachedIssue(id=3, number=3, title="linked", linked_pr=True, **base),
            CachedIssue(id=4, number=4, title="pr", is_pull_request=True, **base),
            CachedIssue(id=5, number=5, title="closed", state="closed", **base),
        ])
        await s.commit()
    assert titles(await world.service.suggest(1)) == ["ok"]


async def test_labels_are_ored_in_one_search(world):
    assert search_query(ORG, ["good first issue", "docs"]) == (
        'org:pallets-eco is:issue is:open archived:false no:assignee -linked:pr label:"good first issue","docs"'
    )
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "Help", labels=["help wanted"])
    world.fake.add_issue(f"{ORG}/flask-mail", "Docs", labels=["area/docs"])
    await world.service.refresh()
    assert world.fake.count("GET", "/search/issues") == 1
    assert sorted(titles(await world.service.suggest(1))) == ["Docs", "Help"]


async def test_kind_uses_the_label_groups(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "Fix a typo", labels=["docs"])
    world.fake.add_issue(f"{ORG}/flask-mail", "Crash", labels=["good first issue", "bug"])
    await world.service.refresh()
    assert titles(await world.service.suggest(1, kind="docs")) == ["Fix a typo"]
    assert titles(await world.service.suggest(2, kind="bug")) == ["Crash"]
    feature = await world.service.suggest(3, kind="feature")
    assert feature.items == () and feature.ideas
    with pytest.raises(InvalidInput):
        await world.service.suggest(1, kind="wishlist")


# ------------------------------------------------------------------ ranking


async def test_ranking_label_then_activity_then_maintained_repo(world):
    add_repo(world, "busy", pushed_at=ago(days=2))
    add_repo(world, "quiet", pushed_at=ago(days=400))
    fake = world.fake
    fake.add_issue(f"{ORG}/busy", "docs, fresh", labels=["docs"], created_at=ago(days=1))
    fake.add_issue(f"{ORG}/quiet", "gfi, idle", labels=["good first issue"], created_at=ago(days=300))
    fake.add_issue(f"{ORG}/quiet", "gfi, fresh, quiet repo", labels=["good first issue"], created_at=ago(days=5))
    fake.add_issue(f"{ORG}/busy", "gfi, fresh, busy repo", labels=["good first issue"], created_at=ago(days=10))
    fake.add_issue(f"{ORG}/busy", "gfi, ancient", labels=["good first issue"], created_at=ago(days=900))
    await world.service.refresh()

    answer = await world.service.suggest(1)
    assert titles(answer) == [
        "gfi, fresh, busy repo",  # beginner label, active this month, maintainers pushing
        "gfi, fresh, quiet repo",  # same label and activity, but the repo is quiet
        "gfi, idle",
        "docs, fresh",  # a weaker beginner label ranks below every "good first issue"
    ]  # 900 days idle is past max_age_days while fresher issues exist
    assert answer.items[0].why.startswith("Labelled `good first issue`")
    assert "maintainers pushed" in answer.items[0].why


async def test_old_issues_only_when_nothing_else(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "ancient", labels=["docs"], created_at=ago(days=1000))
    await world.service.refresh()
    assert titles(await world.service.suggest(1)) == ["ancient"]


async def test_max_age_counts_from_when_the_issue_was_opened(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(
        f"{ORG}/flask-mail", "opened long ago, bumped yesterday", labels=["good first issue"],
        created_at=ago(days=1000), updated_at=ago(days=1),
    )
    world.fake.add_issue(f"{ORG}/flask-mail", "recent docs", labels=["docs"], created_at=ago(days=40))
    await world.service.refresh()
    # A fresher issue exists, so the one opened 1,000 days ago is left out despite its better label.
    assert titles(await world.service.suggest(1)) == ["recent docs"]


async def test_max_age_days_is_configurable(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "two months old", labels=["good first issue"], created_at=ago(days=60))
    world.fake.add_issue(f"{ORG}/flask-mail", "last week", labels=["docs"], created_at=ago(days=7))
    await world.service.refresh()
    assert titles(await world.service.suggest(1)) == ["two months old", "last week"]
    svc = world.make_with(contribute={"max_age_days": 30})
    assert titles(await svc.suggest(2)) == ["last week"]


# ------------------------------------------------------------------ "More"


async def test_more_never_repeats_within_14_days(world):
    add_repo(world, "flask-mail")
    for n in range(12):
        world.fake.add_issue(f"{ORG}/flask-mail", f"issue {n:02d}", labels=["docs"], created_at=ago(days=n + 1))
    await world.service.refresh()
    svc = world.service

    pages = [await svc.suggest(7) for _ in range(3)]
    seen = [t for p in pages for t in titles(p)]
    assert [len(p.items) for p in pages] == [5, 5, 2]
    assert len(set(seen)) == 12
    assert [p.more_available for p in pages] == [True, True, False]
    assert pages[2].ideas  # fewer than five issues left: docs/tests work fills the answer

    again = await svc.suggest(7)
    assert again.repeated and set(titles(again)) <= set(seen)
    assert titles(await svc.suggest(8))[:5] == seen[:5]  # other users are unaffected

    world.clock.advance(days=15)
    later = await svc.suggest(7)
    assert not later.repeated and len(later.items) == 5


# ------------------------------------------------------------------ autocomplete


async def test_project_names_skip_archived_and_prefer_prefix(world):
    for name, archived in [("flask-mail", False), ("flask-old", True), ("wtforms-sqlalchemy", False),
                           ("flask-sqlalchemy-lite", False)]:
        add_repo(world, name, archived=archived)
    await world.service.refresh()
    assert await world.service.project_names("") == ["flask-mail", "flask-sqlalchemy-lite", "wtforms-sqlalchemy"]
    assert await world.service.project_names("sqlal") == ["flask-sqlalchemy-lite", "wtforms-sqlalchemy"]
    assert await world.service.project_names("WTF") == ["wtforms-sqlalchemy"]
    with pytest.raises(InvalidInput, match="archived"):
        await world.service.suggest(1, project="flask-old")
    with pytest.raises(InvalidInput, match="don't know"):
        await world.service.suggest(1, project="nope")


# ------------------------------------------------------------------ fallback


async def test_fallback_for_a_repo_without_issues_uses_its_facts(world):
    add_repo(
        world,
        "flask-mail",
        files={"doc/index.rst": "x", "doc/api.rst": "y", "src/flask_mail/__init__.py": "",
               "src/flask_mail/tests/test_mail.py": "", "CONTRIBUTING.md": "hi"},
        releases=[("0.9.1", ago(days=800))],
    )
    await world.service.refresh()
    answer = await world.service.suggest(1, project="flask-mail")
    assert answer.items == ()
    assert answer.project == f"{ORG}/flask-mail"
    docs, tests = answer.ideas
    assert "`doc/` has only 2 file(s)" in docs.detail and "0.9.1" in docs.detail
    assert docs.url.endswith("/flask-mail/tree/main/doc")
    assert tests.title == "Extend the tests in `src/flask_mail/tests/`"
    assert "no GitHub Actions workflow" in tests.detail
    assert docs.guide_url.endswith("/flask-mail/blob/main/CONTRIBUTING.md")


async def test_fallback_for_an_org_without_beginner_labels(world):
    add_repo(world, "flask-a", pushed_at=ago(days=1), files={"README.md": "x"}, workflows=["tests.yaml"])
    add_repo(world, "flask-b", pushed_at=ago(days=50), files={"docs/a.md": "", "tests/test_a.py": ""})
    world.fake.add_issue(f"{ORG}/flask-a", "A bug", labels=["bug"])
    await world.service.refresh()
    answer = await world.service.suggest(1)
    assert answer.items == ()
    assert [i.repo for i in answer.ideas] == [f"{ORG}/flask-a", f"{ORG}/flask-b"]
    assert answer.ideas[0].title == "Start a docs folder"
    assert answer.ideas[1].title == "Extend the tests in `tests/`"
    assert answer.ideas[0].guide_url == "https://palletsprojects.com/contributing/"


async def test_empty_cache_says_it_is_being_prepared(world):
    answer = await world.service.suggest(1)
    assert answer.preparing and answer.items == () and world.fake.requests == []


# ------------------------------------------------------------------ GitHub down, cost, limits


async def test_stale_cache_is_served_while_github_is_down(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "Still here", labels=["docs"])
    await world.service.refresh()
    world.fake.down = True
    world.clock.advance(hours=2)
    failed = await world.service.refresh()
    assert not failed.ok and "trouble" in (failed.error or "")
    before = len(world.fake.requests)
    answer = await world.service.suggest(1)
    assert titles(answer) == ["Still here"]
    assert answer.stale and answer.data_age == timedelta(hours=2)
    assert len(world.fake.requests) == before  # answering never calls GitHub


async def test_refresh_with_nothing_changed_is_only_304s_and_the_search(world):
    for n in range(3):
        add_repo(world, f"flask-{n}", files={"docs/index.md": "", "tests/test_x.py": ""}, releases=["1.0"])
        world.fake.add_issue(f"{ORG}/flask-{n}", "x", labels=["docs"])
    first = await world.service.refresh()
    assert first.facts_read == 3 and first.rate_limit_cost > 0
    mark = len(world.fake.requests)
    world.clock.advance(minutes=15)
    second = await world.service.refresh()
    again = world.fake.requests[mark:]
    # Search answers carry no ETag (see FakeGitHub._h_search): the one search page is a full request,
    # counted against the search limit; everything else is a free 304.
    assert again and {r.status for r in again if "/search/" not in r.path} == {304}
    assert [r.status for r in again if "/search/" in r.path] == [200]
    assert second.ok and second.rate_limit_cost == 1 and second.requests == second.not_modified + 1 == len(again)
    assert second.issues == 3  # the cache still holds the unchanged issues


async def test_changes_are_picked_up_and_gone_issues_dropped(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "Will be taken", labels=["docs"])
    await world.service.refresh()
    world.fake.update_issue(f"{ORG}/flask-mail", 1, assignees=["someone"])
    world.fake.add_issue(f"{ORG}/flask-mail", "New one", labels=["tests"])
    world.clock.advance(minutes=15)
    await world.service.refresh()
    assert titles(await world.service.suggest(1)) == ["New one"]


async def test_short_search_rate_limit_is_waited_out(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "x", labels=["docs"])
    world.fake.fail("GET", "/search/issues", 403, headers={"Retry-After": "7"})
    result = await world.service.refresh()
    assert result.ok and world.sleeps.waits == [7.0]


async def test_long_rate_limit_backs_off_without_calling_github(world):
    add_repo(world, "flask-mail")
    world.fake.fail("GET", "/search/issues", 429, headers={"Retry-After": "900"})
    result = await world.service.refresh()
    assert not result.ok and "rate limit" in (result.error or "")
    mark = len(world.fake.requests)
    world.clock.advance(minutes=5)
    assert (await world.service.refresh()).skipped
    assert len(world.fake.requests) == mark
    world.clock.advance(minutes=11)
    assert (await world.service.refresh()).ok
    async with world.db() as s:
        state = await s.get(RefreshState, ORG)
        assert state is not None and state.last_error is None


async def test_search_pacer_keeps_under_30_a_minute():
    t = [0.0]
    sleeps = Sleeps()

    async def sleep(seconds: float) -> None:
        sleeps.waits.append(seconds)
        t[0] += seconds

    pacer = SearchPacer(monotonic=lambda: t[0], sleep=sleep)
    for _ in range(30):
        await pacer.wait()
        t[0] += 0.5
    assert sleeps.waits == []
    await pacer.wait()
    assert sleeps.waits == [pytest.approx(45.0)]


async def test_search_pages_through_many_results(world):
    add_repo(world, "flask-big")
    for n in range(250):
        world.fake.add_issue(f"{ORG}/flask-big", f"issue {n}", labels=["docs"], created_at=ago(hours=n + 1))
    result = await world.service.refresh()
    assert result.issues == 250
    assert world.fake.count("GET", "/search/issues") == 3


# ------------------------------------------------------------------ digest


async def test_digest_sent_once_a_week_even_across_restarts(world):
    add_repo(world, "flask-mail")
    add_repo(world, "flask-other")
    world.fake.add_issue(f"{ORG}/flask-mail", "Fresh", labels=["docs"], created_at=ago(days=2))
    world.fake.add_issue(f"{ORG}/flask-other", "Elsewhere", labels=["docs"], created_at=ago(days=2))
    world.fake.add_issue(f"{ORG}/flask-mail", "Old news", labels=["docs"], created_at=ago(days=30))
    await world.service.refresh()
    assert await world.service.subscribe(5, "flask-mail") == (f"{ORG}/flask-mail", True)
    assert await world.service.subscribe(5, "FLASK-MAIL") == (f"{ORG}/flask-mail", False)
    await world.service.subscribe(6)  # everything

    sent: list = []

    async def send(plan):
        sent.append(plan)
        return "dm"

    run = await world.service.run_digest_once(send)
    assert run.sent == 2
    by_user = {p.user_id: [i.title for i in p.items] for p in sent}
    assert by_user == {5: ["Fresh"], 6: ["Elsewhere", "Fresh"]} or by_user == {5: ["Fresh"], 6: ["Fresh", "Elsewhere"]}

    assert (await world.service.run_digest_once(send)).sent == 0
    assert (await world.restart().run_digest_once(send)).sent == 0

    world.clock.advance(days=7)
    world.fake.add_issue(f"{ORG}/flask-mail", "Next week", labels=["docs"], created_at=NOW + timedelta(days=6))
    await world.service.refresh()
    sent.clear()
    assert (await world.service.run_digest_once(send)).sent == 2
    assert [i.title for i in next(p for p in sent if p.user_id == 5).items] == ["Next week"]
    async with world.db() as s:
        rows = (await s.scalars(select(DigestLog).where(DigestLog.user_id == 5))).all()
    assert sorted(r.week_key for r in rows) == sorted({week_key(NOW), week_key(NOW + timedelta(days=7))})

    assert await world.service.unsubscribe(5) == 1
    world.clock.advance(days=7)
    world.fake.add_issue(f"{ORG}/flask-mail", "After unsubscribing", labels=["docs"], created_at=world.clock.now())
    await world.service.refresh()
    sent.clear()
    await world.service.run_digest_once(send)
    assert [p.user_id for p in sent] == [6]


async def test_digests_are_seven_days_apart_even_across_a_week_boundary(world):
    # Sunday evening: the week's digest goes out.
    sunday = (NOW + timedelta(days=(6 - NOW.weekday()) % 7)).replace(hour=20, minute=0, second=0)
    if sunday <= NOW:
        sunday += timedelta(days=7)
    world.clock.advance(seconds=(sunday - NOW).total_seconds())
    assert world.clock.now().isoweekday() == 7
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "Sunday's", labels=["docs"], created_at=world.clock.now())
    await world.service.refresh()
    await world.service.subscribe(5)
    sent: list = []

    async def send(plan):
        sent.append([i.title for i in plan.items])
        return "dm"

    assert (await world.service.run_digest_once(send)).sent == 1

    # Monday is a new ISO week, but a second digest a day later would be spam.
    world.clock.advance(hours=12)
    world.fake.add_issue(f"{ORG}/flask-mail", "Monday's", labels=["docs"], created_at=world.clock.now())
    await world.service.refresh()
    assert (await world.service.run_digest_once(send)).sent == 0
    world.clock.advance(days=6, hours=11)
    assert (await world.service.run_digest_once(send)).sent == 0

    # Seven days on, the held-back issue comes (it was opened since the last digest).
    world.clock.advance(hours=1)
    await world.service.refresh()
    assert (await world.service.run_digest_once(send)).sent == 1
    assert sent == [["Sunday's"], ["Monday's"]]


async def test_failed_digest_is_not_retried_the_same_week(world):
    add_repo(world, "flask-mail")
    world.fake.add_issue(f"{ORG}/flask-mail", "Fresh", labels=["docs"], created_at=ago(days=1))
    await world.service.refresh()
    await world.service.subscribe(5)

    async def broken(plan):
        raise RuntimeError("discord is down")

    assert (await world.service.run_digest_once(broken)).failed == 1
    assert await world.service.digest_due() == []
