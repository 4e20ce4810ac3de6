"""`/eco contribute`, its buttons, `/eco subscribe` and the weekly digest, end to end: the real bot
against the fake Discord and the fake GitHub."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.db.models.contribute import CachedIssue

ORG = "pallets-eco"
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


@pytest.fixture
async def eco(harness):
    """The harness with the clock at real time (the fake GitHub stamps real dates) and an org."""
    assert isinstance(harness.clock, FakeClock)
    harness.clock.advance(seconds=(NOW - harness.clock.now()).total_seconds())
    gh = harness.github
    gh.add_org(ORG)
    return harness


def repo(harness, name: str, **kw):
    kw.setdefault("pushed_at", ago(days=3))
    return harness.github.add_repo(f"{ORG}/{name}", owner_type="Organization", **kw)


def cog(harness):
    return harness.bot.get_cog("Contribute")


def custom_id(message, action: str) -> str:
    return next(cid for cid, _, _ in message.buttons() if cid and cid.startswith(f"eco:contribute:{action}:"))


def listed(message) -> list[str]:
    """Issue titles shown in the embed, in order (bold links at the start of a block)."""
    description = message.embeds[0]["description"]
    return [line[3 : line.index("](")] for line in description.split("\n") if line.startswith("**[")
            and "/issues/" in line]


async def test_first_start_fetches_once_and_shows_only_clean_issues(eco):
    repo(eco, "flask-mail")
    repo(eco, "flask-old", archived=True)
    gh = eco.github
    gh.add_issue(f"{ORG}/flask-mail", "Good one", labels=["good first issue"], created_at=ago(days=2))
    gh.add_issue(f"{ORG}/flask-mail", "Assigned", labels=["good first issue"], assignees=["bob"])
    gh.add_issue(f"{ORG}/flask-mail", "Has a PR", labels=["docs"], linked_pr=True)
    gh.add_issue(f"{ORG}/flask-mail", "A pull request", labels=["docs"], is_pr=True)
    gh.add_issue(f"{ORG}/flask-mail", "Closed", labels=["docs"], state="closed")
    gh.add_issue(f"{ORG}/flask-old", "Archived repo", labels=["docs"])

    first = await eco.slash(eco.USER, "eco contribute")
    reply = await first.wait_message(timeout=15)
    assert reply.ephemeral
    assert listed(reply) == ["Good one"]
    text = reply.text()
    # Each suggestion: link, repository, labels, age, comment count and why this one.
    item = reply.embeds[0]["description"].split("\n\n")[0]
    assert f"/{ORG}/flask-mail/issues/1)" in item
    assert f"{ORG}/flask-mail#1" in item and "`good first issue`" in item
    assert "opened 2 days ago" in item and "0 comments" in item
    assert "_Labelled `good first issue`" in item and "no discussion yet" in item
    assert "No need to ask to be assigned" in text and "https://palletsprojects.com/contributing/" in text
    assert {cid.split(":")[2] for cid, _, _ in reply.buttons()} == {"more", "public"}

    calls = len(gh.requests)
    second = await eco.slash(eco.USER2, "eco contribute")
    answer = await second.wait_message()
    assert answer.ephemeral and listed(answer) == ["Good one"]
    assert len(gh.requests) == calls  # answered from the cache
    assert not eco.discord.unknown_routes


@pytest.mark.parametrize(
    ("latency", "repos_known"),
    [(1.6, False), (0.6, True)],  # per GitHub request; the first answer waits at most 1 s
)
async def test_first_start_with_a_slow_github_answers_in_time_and_says_the_list_is_being_prepared(
    eco, monkeypatch, latency, repos_known
):
    # The module the bot loaded (discord.py loads extensions as fresh module objects).
    monkeypatch.setattr(sys.modules[type(cog(eco)).__module__], "FIRST_FILL_TIMEOUT", 1.0)
    repo(eco, "flask-mail")
    eco.github.add_issue(f"{ORG}/flask-mail", "Worth the wait", labels=["docs"])
    eco.github.latency = latency  # the repository list, then the search: longer than the wait

    first = await eco.slash(eco.USER, "eco contribute")
    reply = await first.wait_message(timeout=5, predicate=lambda m: bool(m.content or m.embeds))
    assert reply.ephemeral and first.ack_latency < 1.0
    if repos_known:
        # Docs/tests work for the repositories already read, and a note that the issue list is
        # still being prepared: never an empty answer, never a false "no beginner issues".
        assert "still being prepared" in reply.content
        assert listed(reply) == [] and "Docs and tests work" in reply.text()
    else:
        assert "being prepared. Try again in a minute" in reply.content and not reply.embeds

    # The refresh carried on in the background: the next answer has the list.
    for _ in range(100):
        if (await cog(eco).service.suggest(eco.USER2)).items:
            break
        await asyncio.sleep(0.1)
    eco.github.latency = 0.0
    later = await eco.slash(eco.USER, "eco contribute")
    assert listed(await later.wait_message()) == ["Worth the wait"]


async def test_ranking_more_and_show_publicly(eco):
    repo(eco, "busy", pushed_at=ago(days=1))
    repo(eco, "quiet", pushed_at=ago(days=500))
    gh = eco.github
    gh.add_issue(f"{ORG}/quiet", "docs task", labels=["docs"], created_at=ago(days=1))
    gh.add_issue(f"{ORG}/quiet", "quiet gfi", labels=["good first issue"], created_at=ago(days=3))
    gh.add_issue(f"{ORG}/busy", "busy gfi", labels=["good first issue"], created_at=ago(days=4))
    for n in range(4):
        gh.add_issue(f"{ORG}/busy", f"help {n}", labels=["help wanted"], created_at=ago(days=10 + n))
    await cog(eco).service.refresh()

    first = await eco.slash(eco.USER, "eco contribute")
    message = await first.wait_message()
    assert listed(message) == ["busy gfi", "quiet gfi", "help 0", "help 1", "help 2"]

    more = await eco.discord.click(eco.USER, message, custom_id(message, "more"))
    # The list is edited in place: the same message, now with the next page.
    assert (await more.wait_message()).id == message.id
    page2 = listed(eco.discord.get_message(message.id))
    assert page2 == ["help 3", "docs task"]

    public = await eco.discord.click(eco.USER, message, custom_id(message, "public"))
    await public.wait_ack()
    posted = public.response_message
    assert not posted.ephemeral and posted.channel_id == eco.ECO_CHANNEL
    assert listed(posted) == page2
    assert posted.mention_ids == set() and not posted.mention_everyone

    await eco.restart()  # the buttons are persistent and the "shown" records durable
    again = await eco.discord.click(eco.USER, message, custom_id(message, "more"))
    await again.wait_message()
    refreshed = eco.discord.get_message(message.id)
    assert "seen every matching issue" in refreshed.content
    assert set(listed(refreshed)) <= {"busy gfi", "quiet gfi", "help 0", "help 1", "help 2", "help 3", "docs task"}


async def test_project_autocomplete_lists_live_repos(eco):
    for name, archived in [("flask-mail", False), ("flask-old", True), ("wtforms-alchemy", False)]:
        repo(eco, name, archived=archived)
    await cog(eco).service.refresh()
    typed = await eco.discord.autocomplete(eco.USER, "eco contribute", focused="project", value="fl")
    await typed.wait_ack()
    assert [c["value"] for c in typed.choices] == ["flask-mail"]
    typed = await eco.discord.autocomplete(eco.USER, "eco contribute", focused="project", value="")
    await typed.wait_ack()
    assert [c["value"] for c in typed.choices] == ["flask-mail", "wtforms-alchemy"]

    # A name typed past the autocomplete: a clear, private answer, not a failure.
    for name, expected in [("flask-nope", "don't know a repository"), ("flask-old", "is archived")]:
        wrong = await eco.slash(eco.USER, "eco contribute", project=name)
        reply = await wrong.wait_message()
        assert reply.ephemeral and expected in reply.content


async def test_fallback_for_a_repo_without_issues_and_an_org_without_labels(eco):
    repo(eco, "flask-empty", files={"README.md": "hi", "tests/test_a.py": ""}, releases=[("2.0", ago(days=40))])
    repo(eco, "flask-bugs", pushed_at=ago(days=10), files={"docs/index.rst": ""})
    eco.github.add_issue(f"{ORG}/flask-bugs", "A crash", labels=["bug"])
    await cog(eco).service.refresh()

    one = await eco.slash(eco.USER, "eco contribute", project="flask-empty")
    text = (await one.wait_message()).text()
    assert "No open beginner issue fits" in text
    assert "Start a docs folder" in text and "Extend the tests in `tests/`" in text
    assert "The last release (2.0)" in text

    org = await eco.slash(eco.USER, "eco contribute", kind="docs")
    text = (await org.wait_message()).text()
    assert "flask-empty" in text and "flask-bugs" in text and "A crash" not in text


async def test_stale_cache_is_served_while_github_is_down(eco):
    repo(eco, "flask-mail")
    eco.github.add_issue(f"{ORG}/flask-mail", "Cached issue", labels=["docs"])
    await cog(eco).service.refresh()
    eco.github.down = True
    eco.clock.advance(hours=3)
    assert not (await cog(eco).service.refresh()).ok

    answer = await eco.slash(eco.USER, "eco contribute")
    reply = await answer.wait_message(timeout=1.0)  # from the cache: no waiting on GitHub
    assert answer.ack_latency < 1.0
    assert listed(reply) == ["Cached issue"]
    assert "last updated 3 hours ago: GitHub could not be reached since" in reply.content


async def test_first_refresh_failing_midway_says_the_list_may_be_incomplete(eco):
    repo(eco, "flask-mail", files={"docs/index.md": ""})
    eco.github.add_issue(f"{ORG}/flask-mail", "Not fetched yet", labels=["docs"])
    eco.github.fail("GET", "/search/issues", 500, times=10)
    result = await cog(eco).service.refresh()
    assert not result.ok and result.repos == 1  # the repositories were read, the issues were not

    answer = await eco.slash(eco.USER, "eco contribute")
    reply = await answer.wait_message()
    assert listed(reply) == [] and "Docs and tests work" in reply.text()
    assert "still being prepared, so this may be incomplete" in reply.content


async def test_first_start_with_github_down_does_not_retry_on_every_command(eco):
    repo(eco, "flask-mail")
    eco.github.add_issue(f"{ORG}/flask-mail", "Worth the wait", labels=["docs"])
    eco.github.down = True

    first = await eco.slash(eco.USER, "eco contribute")
    assert "being prepared. Try again in a minute" in (await first.wait_message()).content
    tried = len(eco.github.requests)
    assert tried > 0  # the first command did try to fill the cache

    # More people asking within the minute: the same answer, and GitHub is left alone.
    for user in (eco.USER2, eco.USER):
        again = await eco.slash(user, "eco contribute")
        assert "being prepared" in (await again.wait_message()).content
    assert len(eco.github.requests) == tried

    eco.github.down = False
    eco.clock.advance(minutes=2)
    later = await eco.slash(eco.USER, "eco contribute")
    assert listed(await later.wait_message(timeout=15)) == ["Worth the wait"]


async def test_refresh_with_nothing_changed_is_only_304s_and_the_search(eco):
    for n in range(4):
        repo(eco, f"flask-{n}", files={"docs/a.md": "", "tests/test_a.py": ""}, releases=["1.0"])
        eco.github.add_issue(f"{ORG}/flask-{n}", f"issue {n}", labels=["docs"])
    service = cog(eco).service
    assert (await service.refresh()).ok
    mark = len(eco.github.requests)
    eco.clock.advance(minutes=15)
    result = await service.refresh()
    new = eco.github.requests[mark:]
    # Search answers carry no ETag (FakeGitHub._h_search): the one search page is a counted request.
    assert result.ok and new and all(r.status == 304 for r in new if "/search/" not in r.path)
    assert [r.status for r in new if "/search/" in r.path] == [200]
    assert result.rate_limit_cost == 1


async def test_digest_once_a_week_dm_or_thread_when_dms_are_closed(eco):
    repo(eco, "flask-mail")
    eco.github.add_issue(f"{ORG}/flask-mail", "Brand new", labels=["good first issue"], created_at=ago(days=1))
    await cog(eco).service.refresh()
    for user in (eco.USER, eco.CLOSED_DMS_USER):
        sub = await eco.slash(user, "eco subscribe", project="flask-mail")
        await sub.wait_ack()
        assert sub.response_message.ephemeral and "once a week" in sub.response_message.content

    run = await cog(eco).run_digest_once()
    assert run.sent == 2
    dm = eco.discord.messages_in(eco.discord.dm_channel(eco.USER).id)
    assert len(dm) == 1 and "Brand new" in dm[0].text()
    threads = [c for c in eco.discord.channels.values() if c.is_thread and c.parent_id == eco.ECO_CHANNEL]
    assert len(threads) == 1
    posted = eco.discord.messages_in(threads[0].id)
    assert len(posted) == 1 and posted[0].mention_ids == {eco.CLOSED_DMS_USER}

    assert (await cog(eco).run_digest_once()).sent == 0
    await eco.restart()
    assert (await cog(eco).run_digest_once()).sent == 0
    assert len(eco.discord.messages_in(eco.discord.dm_channel(eco.USER).id)) == 1

    eco.clock.advance(days=7)
    eco.github.add_issue(f"{ORG}/flask-mail", "Next week's", labels=["docs"], created_at=eco.clock.now())
    await cog(eco).service.refresh()
    assert (await cog(eco).run_digest_once()).sent == 2
    assert len(eco.discord.messages_in(threads[0].id)) == 2  # the same thread is reused

    gone = await eco.slash(eco.USER, "eco unsubscribe")
    await gone.wait_ack()
    assert "no more weekly digests" in gone.response_message.content


async def fill_cache(harness, count: int, repos: int = 20) -> None:
    """A cache as big as a large org's: repositories through a real refresh, issues written directly
    (one GitHub search returns at most 1,000)."""
    names = [f"flask-ext-{n}" for n in range(repos)]
    for name in names:
        repo(harness, name)
    assert (await cog(harness).service.refresh()).ok
    labels = ["good first issue", "help wanted", "docs", "tests", "documentation"]
    async with harness.db() as s:
        s.add_all(
            CachedIssue(
                id=10_000_000 + n, repo_full_name=f"{ORG}/{names[n % repos]}", number=n + 1,
                title=f"issue {n}", url=f"https://github.com/{ORG}/{names[n % repos]}/issues/{n + 1}",
                labels_json=json.dumps([labels[n % 5], "bug"]), comments=n % 7, author_association="NONE",
                created_at=ago(hours=3 * n + 1), updated_at=ago(hours=n + 1), seen_at=NOW,
            )
            for n in range(count)
        )
        await s.commit()


async def test_answers_fast_from_a_cache_of_2000_issues(eco):
    await fill_cache(eco, 2000)
    calls = len(eco.github.requests)
    loop = asyncio.get_running_loop()
    latencies = []
    for n in range(30):
        interaction = await eco.slash(eco.USER if n % 2 else eco.USER2, "eco contribute")
        answer = await interaction.wait_message()
        assert len(listed(answer)) == 5
        # Until the list itself is there, not just the acknowledgement.
        latencies.append(loop.time() - interaction.dispatched_at)
    assert len(eco.github.requests) == calls
    assert max(latencies) < 1.0  # far under Discord's 3 s deadline
