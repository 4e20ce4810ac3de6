"""`/eco join` end to end (issue 16): request → device-flow proof → card with the person's org contributions
→ vote → invitation (and team) → the person is told. The real bot against the fake Discord and GitHub."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db.models.contribute import RepoFacts
from bot.db.models.join import JoinRequest
from tests.resilience._support import settle, wait_for

CLIENT = {"oauth_client_id": "Iv1.fakeclient"}
ADMIN_TOKEN = "ghs_orgadmintoken0000000000000000000"
SECRETS = {"GITHUB_OAUTH_CLIENT_SECRET": "fake-client-secret", "GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN}
APPROVE, REJECT, LOOKING = "\u2705", "\u274c", "\U0001f440"
JOIN_CONFIG = {"teams": {"flask-foo": "flask-foo-maintainers"},
               "channels": {"flask-foo": "the #flask-foo thread in #pallets-eco", "*": "#pallets-eco"}}


async def seed_projects(h, names=("flask-foo", "flask-bar"), archived=("old-thing",)) -> None:
    """The contribute cache of org repositories (what autocomplete and validation read)."""
    async with h.db() as session:
        for n, name in enumerate([*names, *archived], start=1):
            session.add(RepoFacts(id=5000 + n, full_name=f"pallets-eco/{name}", name_lower=name.lower(),
                                  archived=name in archived, html_url=f"https://github.com/pallets-eco/{name}"))
        await session.commit()


def setup_join_world(h) -> None:
    g = h.github
    g.add_org("pallets-eco", admins=["org-admin"])
    g.tokens[ADMIN_TOKEN] = "org-admin"
    g.add_team("pallets-eco", "flask-foo-maintainers")
    g.add_user("carol")["created_at"] = datetime(2019, 3, 1, tzinfo=UTC)
    g.add_repo("pallets-eco/flask-foo", owner_type="Organization")
    g.add_repo("pallets-eco/flask-bar", owner_type="Organization")
    g.add_issue("pallets-eco/flask-foo", "Fix the docs build", is_pr=True, state="closed",
                author="carol")["merged"] = True
    g.add_issue("pallets-eco/flask-bar", "Support Flask 3.1", is_pr=True, author="carol")
    g.add_issue("pallets-eco/flask-foo", "Crash on empty config", author="carol")
    g.add_issue("pallets-eco/flask-foo", "Someone else's issue", author="dave")


@pytest.fixture
async def h(make_harness):
    harness = await make_harness(github=CLIENT, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(harness)
    await seed_projects(harness)
    return harness


def join_cog(h):
    return h.bot.get_cog("Join")


async def stored(h, join_id: int) -> JoinRequest:
    async with h.db() as session:
        return await session.get(JoinRequest, join_id)


async def ask(h, user=None, **options):
    options.setdefault("about", "I maintain two Flask extensions and review PRs weekly.")
    interaction = await h.slash(user or h.USER, "eco join", **options)
    return await interaction.wait_message()


def join_id_of(message) -> int:
    found = [c for c in _custom_ids(message) if c.startswith("eco:join:prove:")]
    assert found, message.text()
    return int(found[0].rsplit(":", 1)[1])


def _custom_ids(message) -> list[str]:
    from tests.fakes.discord_world import walk_components

    return [c["custom_id"] for c in walk_components(message.components) if c.get("custom_id")]


async def prove(h, message, login="carol", user=None):
    """Press "Sign in with GitHub", approve the code on the fake GitHub, run one background pass."""
    jid = join_id_of(message)
    click = await h.discord.click(user or h.USER, message, f"eco:join:prove:{jid}")
    shown = await click.wait_message()
    code = re.search(r"\b([0-9A-F]{4}-[0-9A-F]{4})\b", shown.text())
    assert code, shown.text()
    h.github.approve_device(code.group(1), login)
    h.clock.advance(seconds=6)
    await join_cog(h).run_pass()
    return jid, click


async def join_card(h, jid: int, phrase: str = "", timeout: float = 5.0):
    return await h.discord.wait_for_message(
        h.review_channel_id,
        lambda m: f"Join request #{jid}" in m.text() and phrase in m.text(), timeout)


def dm_texts(h, user_id: int) -> list[str]:
    return [m.text() for m in h.discord.messages_in(h.discord.dm_channel(user_id).id)]


async def test_join_request_end_to_end(h):
    asked = await ask(h, project="flask-foo", project2="pallets-eco/flask-bar")
    assert asked.ephemeral and "flask-foo, flask-bar" in asked.text()
    jid, click = await prove(h, asked)

    told = await click.wait_message(predicate=lambda m: "signed in as" in m.text())
    assert told.ephemeral and "**carol**" in told.text()
    card = await join_card(h, jid, "waiting for votes")
    text = card.text()
    for expected in ("carol", "created 2019-03-01", "flask-foo, flask-bar", "Merged pull requests: **1**",
                     "open pull requests: **1**", "issues opened: **1**", "Fix the docs build", "Support Flask 3.1",
                     "Crash on empty config", "> I maintain two Flask extensions", "0/1"):
        assert expected in text, expected
    assert "Someone else's issue" not in text
    assert h.github.search_cost() == 3  # merged PRs, open PRs, issues: one search each, five links at most
    assert all(h.discord.bot_user.id in card.reactions.get(e, ()) for e in (APPROVE, REJECT, LOOKING))

    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: _state(h, jid, "approved"), what="approval")
    await settle(h)
    row = await stored(h, jid)
    assert row.invitation_state == "sent" and row.github_login == "carol"
    assert "carol" in h.github.orgs["pallets-eco"]["pending"]
    assert "carol" in h.github.orgs["pallets-eco"]["teams"]["flask-foo-maintainers"]
    dms = "\n".join(dm_texts(h, h.USER))
    assert "was approved" in dms and "/orgs/pallets-eco/invitation" in dms
    assert "https://palletsprojects.com/contributing/" in dms and "the #flask-foo thread in #pallets-eco" in dms
    thread = "\n".join(m.text() for m in h.discord.messages_in(row.review_thread_id))
    assert "Invited **carol**" in thread and "flask-foo-maintainers" in thread
    assert row.requester_told_at is not None

    # /eco status shows it; /eco queue lists it for maintainers.
    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert f"#{jid}" in status.text() and "approved" in status.text()
    queue = await (await h.slash(h.MAINTAINER, "eco queue")).wait_message()
    assert f"#{jid} **carol**" in queue.text()


async def _state(h, jid, state):
    return (await stored(h, jid)).state == state


async def test_waiting_join_requests_for_the_digest(h):
    asked = await ask(h)
    jid, _ = await prove(h, asked)
    await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    waiting = await join_cog(h).service.waiting_join_requests()
    assert [(w.id, w.login) for w in waiting] == [(jid, "carol")]
    assert waiting[0].channel_id == h.review_channel_id and waiting[0].message_id is not None


async def test_rejection_reason_reaches_the_person_and_retry_waits(h):
    asked = await ask(h)
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    await h.discord.react(h.MAINTAINER, card, REJECT)
    await wait_for(lambda: _state(h, jid, "rejected"), what="rejection")
    await settle(h)
    row = await stored(h, jid)
    prompt = await h.discord.wait_for_message(row.review_thread_id, lambda m: "Give the reason" in str(m.components))
    await h.restart()  # the button and the form survive a restart
    click = await h.discord.click(h.MAINTAINER, prompt, f"eco:join:reason:{jid}")
    await wait_for(lambda: click.modal or click.messages(), what="an answer to the click")
    assert click.modal is not None, [m.text() for m in click.messages()]
    done = await h.discord.submit_modal(h.MAINTAINER, click, {"reason": "Please contribute a few PRs first."})
    assert "sent to them" in (await done.wait_message()).text()
    assert any("Please contribute a few PRs first." in t for t in dm_texts(h, h.USER))
    again = await h.slash(h.USER, "eco join", about="Trying again")
    assert "You can ask again from" in (await again.wait_message()).text()
    h.clock.advance(days=31)
    again = await ask(h)
    assert "is saved" in again.text()


async def test_existing_member_is_told_and_one_open_request(h):
    h.github.add_member("pallets-eco", "carol")
    asked = await ask(h)
    second = await (await h.slash(h.USER, "eco join", about="again")).wait_message()
    assert "already have join request" in second.text()
    jid, click = await prove(h, asked)
    told = await click.wait_message(predicate=lambda m: "already a member" in m.text())
    assert told.ephemeral
    assert (await stored(h, jid)).state == "member"
    await settle(h)
    assert not [m for m in h.discord.messages_in(h.review_channel_id) if f"Join request #{jid}" in m.text()]


async def test_withdraw_and_autocomplete(h):
    choices = await h.discord.autocomplete(h.USER, "eco join", focused="project", value="flask")
    await choices.wait_done() if hasattr(choices, "wait_done") else None
    names = [c["name"] for c in await wait_for(lambda: choices.choices, what="choices")]
    assert names == ["flask-bar", "flask-foo"]  # not the archived one
    unknown = await (await h.slash(h.USER, "eco join", about="hi", project="old-thing")).wait_message()
    assert "is not one of the pallets-eco projects" in unknown.text()
    asked = await ask(h)
    jid = join_id_of(asked)
    withdrawn = await (await h.slash(h.USER, "eco withdraw")).wait_message()
    assert f"Join request #{jid} is withdrawn" in withdrawn.text()
    assert (await stored(h, jid)).state == "withdrawn"


async def test_invitation_expiry_reinvites_once(h):
    h.github.clock = h.clock.now  # invitations expire on the test clock
    asked = await ask(h)
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: _state(h, jid, "approved"), what="approval")
    await settle(h)
    h.clock.advance(days=7, minutes=1)
    await join_cog(h).run_pass()
    await settle(h)
    row = await stored(h, jid)
    assert row.invitation_state == "resent", row.invitation_error
    assert any("expired before it was accepted" in t for t in dm_texts(h, h.USER))


async def test_without_admin_token_the_card_says_whom_to_invite(make_harness):
    h = await make_harness(github=CLIENT, join=JOIN_CONFIG, env={"GITHUB_OAUTH_CLIENT_SECRET": "fake-client-secret"})
    setup_join_world(h)
    await seed_projects(h)
    asked = await ask(h, project="flask-foo")
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: _state(h, jid, "approved"), what="approval")
    await settle(h)
    row = await stored(h, jid)
    thread = "\n".join(m.text() for m in h.discord.messages_in(row.review_thread_id))
    assert "Invite **carol** to pallets-eco by hand" in thread and "flask-foo-maintainers" in thread
    async with h.db() as session:
        assert (await session.scalar(select(JoinRequest.invitation_state))) == "manual"


async def test_a_rejection_without_reason_is_still_told_after_a_day(h):
    asked = await ask(h)
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    await h.discord.react(h.MAINTAINER, card, REJECT)
    await wait_for(lambda: _state(h, jid, "rejected"), what="rejection")
    await settle(h)
    await join_cog(h).run_pass()
    assert not any("declined" in t for t in dm_texts(h, h.USER))  # the reason may still come
    h.clock.advance(hours=25)
    await join_cog(h).run_pass()
    await join_cog(h).run_pass()
    told = [t for t in dm_texts(h, h.USER) if "declined" in t]
    assert len(told) == 1 and "No reason was written down" in told[0]


async def test_a_refused_invitation_is_tried_again_later(h):
    asked = await ask(h)
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    h.github.fail("PUT", r"/orgs/pallets-eco/memberships/carol$", 422, times=1)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: _state(h, jid, "approved"), what="approval")
    await settle(h)
    assert (await stored(h, jid)).invitation_state == "failed"
    await join_cog(h).run_pass()
    assert (await stored(h, jid)).invitation_state == "failed"  # not hammered every few seconds
    h.clock.advance(minutes=11)
    await join_cog(h).run_pass()
    await settle(h)
    row = await stored(h, jid)
    assert row.invitation_state == "sent" and "carol" in h.github.orgs["pallets-eco"]["pending"]
    assert sum("was approved" in t for t in dm_texts(h, h.USER)) == 1


async def test_a_deleted_card_is_posted_again_and_keeps_its_votes(h):
    asked = await ask(h)
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted")
    await h.discord.react(h.MAINTAINER, card, LOOKING)
    await wait_for(lambda: f"{LOOKING} <@{h.MAINTAINER}>" in h.discord.get_message(card.id).text(),
                   what="the vote shown")
    thread = (await stored(h, jid)).review_thread_id
    h.clock.advance(minutes=5)
    h.discord.delete_message(h.review_channel_id, card.id)
    new = await h.discord.wait_for_message(
        h.review_channel_id, lambda m: f"Join request #{jid}" in m.text() and m.id != card.id and not m.deleted)
    await wait_for(lambda: _state(h, jid, "under_review"), what="card posted again")
    row = await stored(h, jid)
    assert row.review_message_id == new.id and row.review_thread_id == thread
    await h.restart()  # catch-up reads the new card's reactions: the vote on the deleted card stays
    await settle(h)
    async with h.db() as session:
        from bot.db.models.join import JoinVote

        assert (await session.scalar(select(JoinVote.user_id).where(JoinVote.join_id == jid))) == h.MAINTAINER
    await h.discord.react(h.MAINTAINER, new, APPROVE)
    await wait_for(lambda: _state(h, jid, "approved"), what="approval on the new card")


async def test_a_request_never_proven_is_withdrawn_after_the_draft_expiry(h):
    asked = await ask(h)
    jid = join_id_of(asked)
    h.clock.advance(days=13)
    await join_cog(h).run_pass()
    assert (await stored(h, jid)).state == "proving"
    h.clock.advance(days=2)
    await join_cog(h).run_pass()
    assert (await stored(h, jid)).state == "withdrawn"
    assert "is saved" in (await ask(h)).text()  # the member may ask again
