# The `h` fixture is shared with test_review_flow.py; importing it makes ruff see parameters as redefinitions.
# ruff: noqa: F811
"""Maintainer review end to end, the less happy paths: votes taken back, cards deleted (live, in bulk,
while the bot is away), the org invitation failing or not needed, and the queue of tracked transfers."""

from __future__ import annotations

import asyncio

from bot.db.models.transfers import TransferRequest
from tests.e2e.test_review_flow import (  # noqa: F401  (h is a fixture, used by name)
    ADMIN_TOKEN,
    APPROVE,
    LOOKING,
    approve,
    card_of,
    cog,
    dm_texts,
    h,
    settle,
    setup_world,
    stored,
    submit,
    thread_texts,
    wait_card,
    wait_state,
    wait_until,
)


def cards(h, rid: int) -> list:
    return [m for m in h.discord.messages_in(h.review_channel_id) if f"Transfer request #{rid}" in m.text()]


async def test_taking_a_reaction_back_before_the_decision_removes_the_vote(make_harness):
    h = await make_harness(review={"approvals_required": 2})
    h.repo = setup_world(h)
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, f"1/2: <@{h.MAINTAINER}>")
    await h.discord.unreact(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, "0/2")
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await wait_card(h, rid, f"1/2: <@{h.MAINTAINER2}>")
    await settle(h)
    assert (await stored(h, rid)).state == "under_review"
    assert f"<@{h.MAINTAINER}>" not in h.discord.get_message(card.id).text()


async def test_card_deleted_while_the_bot_was_away_is_posted_again_and_keeps_its_votes(make_harness):
    h = await make_harness(review={"approvals_required": 2})
    h.repo = setup_world(h)
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, f"1/2: <@{h.MAINTAINER}>")
    await h.stop_bot()
    h.discord.delete_message(h.review_channel_id, card.id)
    h.clock.advance(minutes=5)
    await h.start_bot()
    new = await h.discord.wait_for_message(
        h.review_channel_id, lambda m: f"Transfer request #{rid}" in m.text() and m.id != card.id
    )
    await wait_until(lambda: stored(h, rid), lambda r: r.review_message_id == new.id)
    new = await card_of(h, rid)  # with the voting reactions
    await wait_card(h, rid, f"1/2: <@{h.MAINTAINER}>")
    # The next start reads the new card's reactions: the vote made on the deleted card must survive.
    h.clock.advance(minutes=5)
    await h.restart()
    await settle(h)
    assert f"1/2: <@{h.MAINTAINER}>" in h.discord.get_message(new.id).text()
    assert (await stored(h, rid)).state == "under_review"
    await h.discord.react(h.MAINTAINER2, new, APPROVE)
    await wait_state(h, rid, "approved")
    assert [m.id for m in cards(h, rid)] == [new.id]


async def test_cards_purged_in_bulk_are_posted_again_without_voting_reactions_once_decided(h):
    waiting = await submit(h, repo="alice/flask-other")
    waiting_card = await card_of(h, waiting)
    tracked = await submit(h)
    tracked_card = await approve(h, tracked)
    await wait_card(h, tracked, "Checklist")
    for message in (waiting_card, tracked_card):
        h.discord.messages[message.id].deleted = True
    h.discord.dispatch("MESSAGE_DELETE_BULK", {
        "ids": [str(waiting_card.id), str(tracked_card.id)], "channel_id": str(h.review_channel_id),
        "guild_id": str(h.guild_id),
    })
    again = await wait_card(h, tracked, "Checklist")
    assert again.id != tracked_card.id
    await card_of(h, waiting)  # the card still collecting votes gets its reactions back
    await settle(h)
    assert (await stored(h, tracked)).review_message_id == again.id
    assert h.discord.get_message(again.id).reactions == {}  # nothing left to vote on
    # The discussion stays in the thread that was opened on the first card.
    assert (await stored(h, tracked)).review_thread_id == tracked_card.id


async def test_card_of_a_tracked_transfer_deleted_while_away_is_posted_again_on_start(h):
    rid = await submit(h)
    card = await approve(h, rid)
    await wait_card(h, rid, "Checklist")
    await h.stop_bot()
    h.discord.delete_message(h.review_channel_id, card.id)
    await h.start_bot()
    again = await wait_card(h, rid, "Checklist")
    assert again.id != card.id
    await wait_until(lambda: stored(h, rid), lambda r: r.review_message_id == again.id)


async def test_finished_request_card_deleted_is_left_deleted(h):
    rid = await submit(h)
    card = await approve(h, rid)
    async with h.db() as s:
        (await s.get(TransferRequest, rid)).state = "done"
        await s.commit()
    h.discord.delete_message(h.review_channel_id, card.id)
    await settle(h)
    assert cards(h, rid) == []


async def test_failed_invitation_is_reported_to_maintainers_and_retried_on_the_next_loop(make_harness):
    h = await make_harness(env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    h.repo = setup_world(h, admin=True)
    # GitHub refuses until told otherwise: how many attempts the approval path makes before the test's
    # own passes depends on timing, so the refusal is lifted explicitly rather than counted.
    h.github.fail("PUT", r"/orgs/pallets-eco/memberships/alice$", 422, times=1_000,
                  body={"message": "Validation Failed"})
    rid = await submit(h)
    card = await approve(h, rid)
    await wait_card(h, rid, "retried on the next check")
    failures = [t for t in thread_texts(h, card.id) if "Inviting **alice** to pallets-eco failed" in t]
    assert len(failures) == 1 and h.github.invitations == []
    result = await cog(h).run_tracking_pass()  # fails again: no second alarm
    await settle(h)
    assert result.invitations == []
    assert len([t for t in thread_texts(h, card.id) if "failed" in t]) == 1 and h.github.invitations == []
    h.github._faults.clear()
    await cog(h).run_tracking_pass()  # GitHub accepts it now
    await wait_card(h, rid, "invitation sent to **alice**")
    await settle(h)
    assert sum("Invited **alice**" in t for t in thread_texts(h, card.id)) == 1
    assert h.github.invitations == [("pallets-eco", "alice", "member", "org-admin")]
    await cog(h).run_tracking_pass()
    await settle(h)
    assert len(h.github.invitations) == 1


async def test_requester_already_in_the_org_is_not_invited_again(make_harness):
    h = await make_harness(env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    h.repo = setup_world(h, admin=True)
    h.github.add_member("pallets-eco", "alice")
    rid = await submit(h)
    card = await approve(h, rid)
    await wait_card(h, rid, "**alice** is already a member of pallets-eco")
    assert any("already a member" in t for t in thread_texts(h, card.id))
    [dm] = dm_texts(h, h.USER)
    assert "**alice** is already a member of pallets-eco" in dm and "accept the invitation" not in dm
    await cog(h).run_tracking_pass()
    await settle(h)
    assert h.github.invitations == [] and h.github.count("PUT", "/memberships/") == 0


async def test_queue_shows_tracked_transfers_with_what_is_left(h):
    reviewing = await submit(h, repo="alice/flask-other")
    card = await card_of(h, reviewing)
    await h.discord.react(h.MAINTAINER, card, LOOKING)
    tracked = await submit(h)
    await approve(h, tracked)
    h.clock.advance(days=3)
    h.github.add_member("pallets-eco", "alice")
    await cog(h).run_tracking_pass()
    await wait_state(h, tracked, "transferring")
    text = (await (await h.slash(h.MAINTAINER, "eco queue")).wait_message()).text()
    assert f"#{reviewing} **alice/flask-other** \u00b7 3d \u00b7 maintainer votes (0/1 approvals)" in text
    assert "transferring (1)" in text
    line = next(t for t in text.splitlines() if t.startswith(f"#{tracked} "))
    assert "3d" in line and "GitHub transfer, PyPI owner, publish workflow" in line
    assert "requester joins org" not in line


async def test_approval_given_while_unverified_decides_once_the_request_is_verified(h):
    rid = await submit(h, verified=False)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await h.discord.wait_for_message(
        h.review_channel_id, lambda m: m.id == card.id and any(b[0] == f"eco:review:confirm:{rid}" for b in m.buttons())
    )
    done = await h.slash(h.MAINTAINER2, "eco verify-manual", request=rid, reason="Known maintainer of it")
    await done.wait_message()
    await wait_state(h, rid, "approved")
    await wait_card(h, rid, "approved: transfer steps in progress")
    await settle(h)
    assert (await stored(h, rid)).decided_by == h.MAINTAINER
    assert h.discord.get_message(card.id).buttons() == []  # the confirm button is gone
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1


async def test_misconfigured_review_channel_is_logged_with_its_setting_and_nothing_is_half_done(make_harness):
    missing = 900_000_000_000_000_999
    h = await make_harness(discord={"review_channel_id": missing})
    h.repo = setup_world(h)
    rid = await submit(h)
    await wait_until(lambda: asyncio.sleep(0, h.logs), lambda logs: "discord.review_channel_id" in logs)
    assert f"discord.review_channel_id {missing} is missing or not visible to the bot" in h.logs
    assert "python -m bot check" in h.logs
    await settle(h)
    request = await stored(h, rid)
    assert request.state == "submitted" and request.review_message_id is None
    queue = await (await h.slash(h.MAINTAINER, "eco queue")).wait_message()
    assert "the review card to be posted" in queue.text()


async def test_card_shows_a_failing_tracking_check_until_it_works_again(h):
    rid = await submit(h)
    card = await approve(h, rid)
    h.github.down = True
    assert (await cog(h).run_tracking_pass()).aborted
    await wait_card(h, rid, "The last check failed")
    h.github.down = False
    h.github.add_member("pallets-eco", "alice")
    await cog(h).run_tracking_pass()
    await wait_card(h, rid, "~~Requester joined the pallets-eco organisation")
    await settle(h)
    assert "The last check failed" not in h.discord.get_message(card.id).text()
    assert (await stored(h, rid)).state == "transferring"
