"""Maintainer review end to end: the real bot, fake Discord (gateway + REST), fake GitHub and PyPI."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select

from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.services.eligibility import Check, Report
from cogs.review import Review

ADMIN_TOKEN = "ghs_orgadmintoken0000000000000000000"
APPROVE, REJECT, LOOKING = "\u2705", "\u274c", "\U0001f440"
README = "# Flask-Thing\n\nA Flask extension.\n"


def setup_world(h, *, admin: bool = False) -> dict:
    h.github.add_org("pallets-eco", admins=["org-admin"])
    if admin:
        h.github.tokens[ADMIN_TOKEN] = "org-admin"
    h.github.add_user("alice")
    repo = h.github.add_repo("alice/flask-thing", readme=README, admins=["alice"])
    h.pypi.add_project("flask-thing", roles=[("Owner", "alice")])
    return repo


@pytest.fixture
async def h(harness):
    harness.repo = setup_world(harness)
    return harness


def report_json(verdict: str = "eligible") -> str:
    checks = [
        Check("pallets_dependency", "pass", "Uses a Pallets library", "depends on flask"),
        Check("pypi_role", "pass", "PyPI role", "alice is Owner of flask-thing"),
    ]
    return Report(verdict=verdict, checks=checks, repo_full_name="alice/flask-thing", pypi_project="flask-thing",
                  pypi_role="Owner", github_owner="alice").to_json()


async def submit(h, *, requester: int | None = None, verified: bool = True, verdict: str = "eligible",
                 repo: str = "alice/flask-thing") -> int:
    owner, name = repo.split("/")
    now = h.clock.now()
    async with h.db() as s:
        req = TransferRequest(
            guild_id=h.guild_id, requester_id=requester or h.USER, state="submitted", repo_owner=owner,
            repo_name=name, repo_key=repo.lower(), github_repo_id=h.repo["id"], pypi_project="flask-thing",
            github_username="alice", pypi_username="alice", reason="I want help maintaining it.",
            submitted_at=now, verdict=verdict, report_json=report_json(verdict),
            verified_at=now if verified else None, verification_method="github-owner" if verified else None,
            verified_github_login="alice" if verified else None,
        )
        s.add(req)
        await s.commit()
        rid = req.id
    h.bot.dispatch("transfer_submitted", rid)
    return rid


async def stored(h, rid: int) -> TransferRequest:
    async with h.db() as s:
        return await s.get(TransferRequest, rid)


async def card_of(h, rid: int):
    """The review card once it is posted with the bot's three voting reactions."""
    def posted(m) -> bool:
        return f"Transfer request #{rid}" in m.text() and all(h.discord.bot_user.id in m.reactions.get(e, ())
                                                              for e in (APPROVE, REJECT, LOOKING))

    return await h.discord.wait_for_message(h.review_channel_id, posted)


async def wait_card(h, rid: int, phrase: str, timeout: float = 5.0):
    return await h.discord.wait_for_message(
        h.review_channel_id, lambda m: f"Transfer request #{rid}" in m.text() and phrase in m.text(), timeout
    )


async def wait_until(read, check, timeout: float = 5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check(value := await read()):
        assert loop.time() < deadline, f"still {value!r}"
        await asyncio.sleep(0.02)
    return value


async def wait_state(h, rid: int, state: str, timeout: float = 5.0) -> None:
    request = await wait_until(lambda: stored(h, rid), lambda r: r.state == state, timeout)
    assert request.state == state


async def settle(h) -> None:
    """Let follow-up tasks (messages after a decision) finish."""
    for _ in range(3):
        await asyncio.sleep(0.1)
        tasks = [t for t in h.bot._tasks if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)


def cog(h) -> Review:
    found = h.bot.get_cog("Review")
    # discord.py loads extensions as their own module object: compare by name, not identity.
    assert type(found).__qualname__ == Review.__qualname__
    return found  # type: ignore[return-value]


def dm_texts(h, user_id: int) -> list[str]:
    return [m.text() for m in h.discord.messages_in(h.discord.dm_channel(user_id).id)]


def thread_texts(h, thread_id: int) -> list[str]:
    return [m.text() for m in h.discord.messages_in(thread_id)]


# ------------------------------------------------------------------------------------- the card


async def test_submitted_request_gets_a_card_with_reactions_and_a_thread(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    await wait_card(h, rid, "under review by maintainers")
    text = card.text()
    for expected in ("alice/flask-thing", "flask-thing", f"<@{h.USER}>", "GitHub: **alice**", "Verified as **alice**",
                     "ELIGIBLE", "depends on flask", "alice: **Owner**", "0/1"):
        assert expected in text, expected
    req = await stored(h, rid)
    assert req.state == "under_review" and req.review_message_id == card.id
    assert req.review_thread_id == card.id  # a thread started on the card has the card's id
    assert any("Discussion of transfer request" in t for t in thread_texts(h, card.id))
    h.bot.dispatch("transfer_submitted", rid)  # a duplicate event posts nothing new
    await settle(h)
    assert len([m for m in h.discord.messages_in(h.review_channel_id) if "Transfer request #" in m.text()]) == 1


async def test_unverified_request_needs_a_confirm_click(h):
    rid = await submit(h, verified=False, verdict="not_accepted")
    card = await card_of(h, rid)
    await wait_card(h, rid, "NOT VERIFIED")
    assert "NOT ACCEPTED" in card.text()
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    card = await h.discord.wait_for_message(
        h.review_channel_id, lambda m: m.id == card.id and (f"eco:review:confirm:{rid}", "Confirm approval", False)
        in m.buttons()
    )
    assert (await stored(h, rid)).state == "under_review"
    refused = await h.discord.click(h.USER2, card, f"eco:review:confirm:{rid}")
    assert "Only Pallets maintainers" in (await refused.wait_message()).text()
    click = await h.discord.click(h.MAINTAINER2, card, f"eco:review:confirm:{rid}")
    assert (await click.wait_message()).ephemeral
    await wait_state(h, rid, "approved")
    assert (await stored(h, rid)).decided_by == h.MAINTAINER2
    await wait_card(h, rid, "approved: transfer steps in progress")


async def test_deleted_card_is_posted_again(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    h.discord.delete_message(h.review_channel_id, card.id)
    new = await h.discord.wait_for_message(h.review_channel_id, lambda m: f"Transfer request #{rid}" in m.text()
                                           and m.id != card.id)
    await wait_until(lambda: stored(h, rid), lambda r: r.review_message_id == new.id)
    new = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, new, APPROVE)
    await wait_state(h, rid, "approved")


# ------------------------------------------------------------------------------------- votes


async def test_one_approval_approves_tells_requester_and_says_whom_to_invite(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    card_text = (await wait_card(h, rid, "invite **alice** to pallets-eco by hand")).text()
    assert f"1/1: <@{h.MAINTAINER}>" in card_text and "Checklist" in card_text
    assert any(f"Approved by <@{h.MAINTAINER}>" in t for t in thread_texts(h, card.id))
    [dm] = dm_texts(h, h.USER)
    for step in ("Join the org first", "Transfer the repository", "`davidism` an **Owner** of `flask-thing`",
                 "`pallets-eco/flask-thing`", "`publish.yaml`", "environment `publish`", "Pallets Community Ecosystem",
                 "Cut a release"):
        assert step in dm, step
    assert h.github.invitations == []


async def test_two_required_approvals(make_harness):
    h = await make_harness(review={"approvals_required": 2})
    h.repo = setup_world(h)
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, f"1/2: <@{h.MAINTAINER}>")
    assert (await stored(h, rid)).state == "under_review"
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await wait_state(h, rid, "approved")
    assert (await stored(h, rid)).decided_by == h.MAINTAINER2


async def test_self_vote_non_maintainer_and_custom_emoji_never_count(h):
    rid = await submit(h, requester=h.MAINTAINER)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)  # the requester, though a maintainer
    await h.discord.react(h.USER2, card, APPROVE)  # not a maintainer
    await h.discord.react(h.MAINTAINER2, card, "party:123456789012345678")  # custom emoji
    await h.discord.react(h.MAINTAINER2, card, LOOKING)
    await wait_card(h, rid, f"{LOOKING} <@{h.MAINTAINER2}>")
    await settle(h)
    assert (await stored(h, rid)).state == "under_review"
    assert "0/1" in h.discord.get_message(card.id).text()
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await wait_state(h, rid, "approved")


async def test_rejection_asks_for_a_reason_and_relays_it(h):
    rid = await submit(h, requester=h.CLOSED_DMS_USER)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, REJECT)
    await wait_state(h, rid, "rejected")
    ask = await h.discord.wait_for_message(card.id, lambda m: "Please give the reason" in m.text())
    assert h.MAINTAINER in ask.mention_ids  # the maintainer who rejected is pinged
    refused = await h.discord.click(h.USER2, ask, f"eco:review:reason:{rid}")
    assert "Only Pallets maintainers" in (await refused.wait_message()).text()
    click = await h.discord.click(h.MAINTAINER, ask, f"eco:review:reason:{rid}")
    await click.wait_ack()
    done = await h.discord.submit_modal(h.MAINTAINER, click, {"reason": "Not an extension: @everyone look"})
    assert "private thread" in (await done.wait_message()).text()
    # DMs are closed: the reason goes to a private thread in the eco channel, with the requester in it.
    relayed = await h.discord.wait_for_message(
        None, lambda m: "was not accepted" in m.text() and m.channel_id not in (h.review_channel_id, card.id)
    )
    thread = h.discord.channels[relayed.channel_id]
    assert thread.type == 12 and thread.parent_id == h.eco_channel_id and h.CLOSED_DMS_USER in thread.thread_members
    assert "Not an extension" in relayed.text() and not relayed.mention_everyone
    await wait_card(h, rid, "Reason: Not an extension")
    late = await h.discord.react(h.MAINTAINER2, card, APPROVE)
    assert late
    await settle(h)
    assert (await stored(h, rid)).state == "rejected"


async def test_rejection_without_a_reason_is_still_told_once_and_the_reason_follows(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, REJECT)
    await wait_state(h, rid, "rejected")
    ask = await h.discord.wait_for_message(card.id, lambda m: "Please give the reason" in m.text())

    # Nobody writes the reason: within the day the requester hears nothing (the reason may come).
    h.clock.advance(hours=23)
    await cog(h).run_tracking_pass()
    await settle(h)
    assert not any("not accepted" in t for t in dm_texts(h, h.USER))
    # After a day they learn the outcome, once, and that the reason will follow.
    h.clock.advance(hours=2)
    for _ in range(2):
        await cog(h).run_tracking_pass()
        await settle(h)
    told = [t for t in dm_texts(h, h.USER) if "was not accepted" in t]
    assert len(told) == 1 and "have not written down the reason yet" in told[0]

    await h.restart()
    h.clock.advance(days=3)
    await cog(h).run_tracking_pass()
    await settle(h)
    assert len([t for t in dm_texts(h, h.USER) if "was not accepted" in t]) == 1  # not again after a restart

    click = await h.discord.click(h.MAINTAINER, ask, f"eco:review:reason:{rid}")
    await click.wait_ack()
    done = await h.discord.submit_modal(h.MAINTAINER, click, {"reason": "An application, not an extension"})
    assert "by DM" in (await done.wait_message()).text()
    told = [t for t in dm_texts(h, h.USER) if "was not accepted" in t]
    assert len(told) == 2 and "Reason from the maintainers: An application" in told[1]


async def test_checklist_claimed_by_a_process_that_died_before_sending_it_is_sent_after_restart(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    assert sum("Join the org first" in t for t in dm_texts(h, h.USER)) == 1
    await h.restart()
    await settle(h)
    assert sum("Join the org first" in t for t in dm_texts(h, h.USER)) == 1  # delivered: not sent again

    # As if the process had died between claiming the message and sending it: no delivery recorded.
    async with h.db() as s:
        await s.execute(delete(TransferEvent).where(TransferEvent.request_id == rid,
                                                    TransferEvent.action == "review.requester_told"))
        await s.commit()
    h.discord.nonces.clear()  # and Discord never saw that send (else its enforce_nonce answers the first one)
    h.clock.advance(minutes=1)
    await h.restart()
    await settle(h)
    assert sum("Join the org first" in t for t in dm_texts(h, h.USER)) == 2  # the lost message is sent
    h.clock.advance(minutes=1)
    await h.restart()
    await settle(h)
    assert sum("Join the org first" in t for t in dm_texts(h, h.USER)) == 2  # and only once


# ------------------------------------------------------------------------------------- races


async def test_fifty_concurrent_approvals_one_decision_one_message_one_invitation(make_harness):
    h = await make_harness(review={"approvals_required": 2}, env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    h.repo = setup_world(h, admin=True)
    maintainers = [950_000_000_000_000_000 + n for n in range(50)]
    for uid in maintainers:
        h.discord.add_member(h.guild_id, uid, f"maint-{uid % 100}", roles=(h.maintainer_role_id,))
    rid = await submit(h)
    card = await card_of(h, rid)
    await asyncio.gather(*(h.discord.react(uid, card, APPROVE) for uid in maintainers))
    await wait_state(h, rid, "approved")
    await settle(h)
    await wait_card(h, rid, "invitation sent to **alice**")
    assert h.github.invitations == [("pallets-eco", "alice", "member", "org-admin")]
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1
    assert sum("Invited **alice**" in t for t in thread_texts(h, card.id)) == 1
    assert len(dm_texts(h, h.USER)) == 1
    async with h.db() as s:
        approvals = await s.scalar(select(func.count()).where(TransferEvent.request_id == rid,
                                                              TransferEvent.action == "review.approved"))
    assert approvals == 1


async def test_replay_after_resume_decides_once(make_harness):
    h = await make_harness(review={"approvals_required": 2})
    h.repo = setup_world(h)
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, "1/2")
    await h.discord.drop_connection(resumable=True)
    await h.discord.react(h.MAINTAINER2, card, APPROVE)  # queued, replayed on RESUME
    await h.discord.wait_until_connected()
    await wait_state(h, rid, "approved")
    # Discord may deliver the same events again: nothing new must happen.
    reactions = [p["d"] for p in h.discord.dispatched if p["t"] == "MESSAGE_REACTION_ADD"]
    for data in reactions:
        h.discord.dispatch("MESSAGE_REACTION_ADD", data)
    await settle(h)
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1
    assert len(dm_texts(h, h.USER)) == 1
    assert h.discord.resume_count >= 1


async def test_reactions_made_while_offline_are_caught_up(make_harness):
    h = await make_harness(review={"approvals_required": 2})
    h.repo = setup_world(h)
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, "1/2")
    await h.stop_bot()
    await h.discord.react(h.USER2, card, APPROVE)  # not a maintainer: still ignored
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await h.start_bot()
    await wait_state(h, rid, "approved")
    await settle(h)
    assert (await stored(h, rid)).decided_by in (h.MAINTAINER, h.MAINTAINER2)
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1
    await h.restart()  # a second start finds nothing left to do
    await settle(h)
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1


# ------------------------------------------------------------------------------------- tracking


async def approve(h, rid: int):
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    return card


async def test_tracking_from_approval_to_done(h):
    rid = await submit(h)
    card = await approve(h, rid)
    steps = [
        (lambda: h.github.add_member("pallets-eco", "alice"), "Requester joined the pallets-eco organisation"),
        (lambda: h.github.transfer_repo("alice/flask-thing", "pallets-eco"), "Repository moved to pallets-eco"),
        (lambda: h.pypi.set_roles("flask-thing", [("Owner", "alice"), ("Owner", "davidism")]),
         "PyPI: davidism is an Owner"),
        (lambda: h.github.repo("pallets-eco/flask-thing")["files"].update(
            {".github/workflows/publish.yaml": "name: Publish\n"}), "Publish workflow"),
        (lambda: h.github.repo("pallets-eco/flask-thing")["files"].update(
            {"README.md": README + "Part of the Pallets Community Ecosystem.\n"}), "README mentions"),
        (lambda: h.pypi.add_release("flask-thing", "2.0.0", h.clock.now()), "A PyPI release"),
    ]
    for change, title in steps:
        h.clock.advance(hours=2)
        change()
        result = await cog(h).run_tracking_pass()
        assert result.progress and result.progress[0].completed
        await wait_card(h, rid, f"~~{title}")
    assert (await stored(h, rid)).state == "transferring"
    refused = await h.slash(h.USER, "eco tick", request=rid, item="readthedocs")
    assert "Only Pallets maintainers" in (await refused.wait_message()).text()
    for item in ("readthedocs", "test_pypi"):
        tick = await h.slash(h.MAINTAINER, "eco tick", request=rid, item=item, note="done by hand")
        assert "Ticked" in (await tick.wait_message()).text()
    await wait_state(h, rid, "done")
    await wait_card(h, rid, "Every step is done")
    note = await h.discord.wait_for_message(h.eco_channel_id, lambda m: "is now part of the Pallets" in m.text())
    assert "flask-thing" in note.text()
    assert any("Every checklist step is done" in t for t in thread_texts(h, card.id))


async def test_tracking_errors_change_nothing(h):
    rid = await submit(h)
    await approve(h, rid)
    h.github.add_member("pallets-eco", "alice")
    h.github.down = True
    result = await cog(h).run_tracking_pass()
    assert result.aborted and (await stored(h, rid)).state == "approved"
    h.github.down = False
    await cog(h).run_tracking_pass()
    assert (await stored(h, rid)).state == "transferring"


async def test_stall_nudges_follow_the_clock(h):
    h.discord.guilds[h.guild_id].roles[h.maintainer_role_id].mentionable = True
    rid = await submit(h)
    card = await approve(h, rid)
    before = len(dm_texts(h, h.USER))
    h.clock.advance(days=6, hours=23)
    await cog(h).run_tracking_pass()
    assert len(dm_texts(h, h.USER)) == before
    h.clock.advance(hours=1)
    await cog(h).run_tracking_pass()
    await settle(h)
    assert len(dm_texts(h, h.USER)) == before + 1 and "friendly reminder" in dm_texts(h, h.USER)[-1]
    await wait_card(h, rid, "requester reminded on")
    await cog(h).run_tracking_pass()
    h.clock.advance(days=7)
    await cog(h).run_tracking_pass()
    ping = await h.discord.wait_for_message(card.id, lambda m: "has not progressed for 14 days" in m.text())
    assert h.maintainer_role_id in ping.mention_role_ids and h.MAINTAINER in ping.mention_ids
    await h.restart()
    await cog(h).run_tracking_pass()
    await settle(h)
    assert len(dm_texts(h, h.USER)) == before + 1
    assert sum("has not progressed" in t for t in thread_texts(h, card.id)) == 1


# ------------------------------------------------------------------------------------- queue


async def test_queue_for_maintainers_only(h):
    waiting = await submit(h)
    await card_of(h, waiting)
    await wait_state(h, waiting, "under_review")
    h.clock.advance(days=2)
    refused = await h.slash(h.USER, "eco queue")
    assert "Only Pallets maintainers" in (await refused.wait_message()).text()
    shown = await h.slash(h.MAINTAINER, "eco queue")
    message = await shown.wait_message()
    assert message.ephemeral
    text = message.text()
    assert f"#{waiting} **alice/flask-thing** \u00b7 2d \u00b7 maintainer votes (0/1 approvals)" in text
    assert "under review by maintainers (1)" in text


async def test_other_reactions_are_removed_when_the_bot_may(h):
    from tests.fakes.discord import Perm

    h.discord.set_bot_permissions(h.guild_id, Perm.MANAGE_MESSAGES)
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.USER2, card, APPROVE)
    await h.discord.react(h.MAINTAINER2, card, "\U0001f44d")
    await h.discord.react(h.MAINTAINER, card, LOOKING)
    await wait_card(h, rid, f"{LOOKING} <@{h.MAINTAINER}>")
    msg = h.discord.get_message(card.id)
    await wait_until(lambda: asyncio.sleep(0.01, msg.reactions), lambda r: h.USER2 not in r.get(APPROVE, ())
                     and "\U0001f44d" not in r)
    assert h.MAINTAINER in msg.reactions[LOOKING]
    assert (await stored(h, rid)).state == "under_review"


async def test_requester_thread_mode_opens_a_private_thread_with_the_requester(make_harness):
    h = await make_harness(review={"thread_mode": "requester"})
    h.repo = setup_world(h)
    rid = await submit(h)
    card = await card_of(h, rid)
    await wait_until(lambda: stored(h, rid), lambda r: r.review_thread_id is not None)
    thread = await h.discord.wait_for_message(None, lambda m: "This private thread is about your transfer" in m.text())
    thread = h.discord.channels[thread.channel_id]
    assert thread.type == 12 and thread.parent_id == h.eco_channel_id and h.USER in thread.thread_members
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    # "Approved by" is for maintainers: on the card's thread, not in the requester's (issue 13.3).
    assert any("Approved by" in t for t in thread_texts(h, card.id))
    assert not any("Approved by" in t for t in thread_texts(h, thread.id))
