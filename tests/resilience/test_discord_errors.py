"""Discord answering 429 (with retry-after), 500, 50007 (DMs closed) and 50013 (missing permissions) on
the calls the bot makes: the review card, its reactions, messages to the requester, replies in the
eco channel. Transient errors are retried without duplicates; permanent ones leave the state
consistent and are logged (or the user is told another way)."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models.faq import WelcomedMember
from tests.resilience._support import (
    APPROVE,
    card_of,
    custom_id,
    dm_texts,
    settle,
    setup_transfer_world,
    stored,
    submit,
    submitted_request,
    to_ready,
    wait_card,
    wait_for,
    wait_state,
)


def review_post(h) -> str:
    return rf"^/channels/{h.REVIEW_CHANNEL}/messages$"


def cards(h, rid: int) -> list:
    return [m for m in h.discord.messages_in(h.REVIEW_CHANNEL) if f"Transfer request #{rid}" in m.text()]


async def submit_form(h, user=None) -> int:
    msg = await to_ready(h, user)
    await submit(h, msg, user)
    return int(custom_id(msg, "submit").rsplit(":", 1)[1])


async def test_card_post_is_retried_after_429_and_500_and_posted_once(harness):
    h = harness
    setup_transfer_world(h)
    h.discord.fail("POST", review_post(h), 429, retry_after=0.2)
    h.discord.fail("POST", review_post(h), 500)
    rid = await submit_form(h)
    await card_of(h, rid)
    await wait_state(h, rid, "under_review")
    await settle(h)
    attempts = h.discord.calls_to("POST", review_post(h))
    assert [c.status for c in attempts[:3]] == [429, 500, 200]
    assert len(cards(h, rid)) == 1
    assert (await stored(h, rid)).review_message_id == cards(h, rid)[0].id


async def test_card_refused_for_missing_permissions_is_logged_and_posted_on_next_start(harness):
    h = harness
    setup_transfer_world(h)
    h.discord.fail("POST", review_post(h), 403, code=50013)
    rid = await submit_form(h)
    await wait_for(lambda: "can't post the card" in h.logs, what="the logged error")
    await settle(h)
    assert "check the bot's permissions" in h.logs
    assert cards(h, rid) == []
    request = await stored(h, rid)
    assert request.state == "submitted" and request.review_message_id is None  # nothing half-done
    queue = await (await h.slash(h.MAINTAINER, "eco queue")).wait_message()
    assert "the review card to be posted" in queue.text()

    await h.restart()  # permissions fixed: the start-up catch-up posts it
    await card_of(h, rid)
    await wait_state(h, rid, "under_review")
    assert len(cards(h, rid)) == 1


async def test_reactions_refused_the_card_still_collects_votes(harness):
    h = harness
    setup_transfer_world(h)
    h.discord.fail("PUT", r"/reactions/.+/@me$", 403, code=50013, times=10)
    rid = await submit_form(h)
    await wait_for(lambda: "can't add the voting reactions to card" in h.logs, what="the logged error")
    await wait_state(h, rid, "under_review")  # the card is stored although its reactions failed
    await wait_for(lambda: "can't open the discussion thread" not in h.logs and bool(
        h.discord.calls_to("POST", r"/channels/\d+/messages/\d+/threads")), what="the discussion thread")
    [card] = cards(h, rid)
    done = await h.slash(h.MAINTAINER, "eco verify-manual", request=rid, reason="Known maintainer")
    await done.wait_message()
    await h.discord.react(h.MAINTAINER, card, APPROVE)  # maintainers add the reaction themselves
    await wait_state(h, rid, "approved")
    await settle(h)
    assert (await stored(h, rid)).decided_by == h.MAINTAINER
    assert len(dm_texts(h, h.USER)) == 1


async def test_reaction_429_is_retried_and_every_vote_emoji_lands(harness):
    h = harness
    setup_transfer_world(h)
    h.discord.fail("PUT", r"/reactions/.+/@me$", 429, retry_after=0.1, times=2)
    rid = await submitted_request(h, verified=False)  # waits for all three bot reactions
    assert len(cards(h, rid)) == 1
    assert "can't add reactions" not in h.logs


async def test_dms_closed_requester_gets_the_checklist_in_a_private_thread(harness):
    h = harness
    setup_transfer_world(h)
    rid = await submitted_request(h, user=h.CLOSED_DMS_USER)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    note = await h.discord.wait_for_message(
        None, lambda m: "Join the org first" in m.text() and m.channel_id != h.discord.dm_channel(h.CLOSED_DMS_USER).id)
    thread = h.discord.channels[note.channel_id]
    assert thread.type == 12 and thread.parent_id == h.ECO_CHANNEL and h.CLOSED_DMS_USER in thread.thread_members
    assert note.mention_ids == {h.CLOSED_DMS_USER} and not note.mention_everyone
    assert dm_texts(h, h.CLOSED_DMS_USER) == []
    assert [c.status for c in h.discord.calls_to("POST", r"^/channels/\d+/messages$")
            if c.response and c.response.get("code") == 50007] == [403]


async def test_no_way_to_reach_the_requester_is_logged_and_the_decision_stands(harness):
    h = harness
    setup_transfer_world(h)
    rid = await submitted_request(h, user=h.CLOSED_DMS_USER)
    card = await card_of(h, rid)
    h.discord.fail("POST", rf"^/channels/{h.ECO_CHANNEL}/threads$", 403, code=50013, times=5)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await wait_for(lambda: "can't open a private thread" in h.logs, what="the logged error")
    await settle(h)
    assert (await stored(h, rid)).state == "approved"
    await wait_card(h, rid, "approved")
    assert "Traceback" not in h.logs


async def test_eco_channel_replies_refused_or_rate_limited(harness):
    h = harness
    eco_post = rf"^/channels/{h.ECO_CHANNEL}/messages$"
    h.discord.fail("POST", eco_post, 403, code=50013)
    first = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "hello, I'm new here")
    await wait_for(lambda: "could not reply in channel" in h.logs, what="the logged warning")
    assert "50013" in h.logs
    async with h.db() as s:
        assert h.USER not in list(await s.scalars(select(WelcomedMember.user_id)))  # not recorded as welcomed

    h.discord.fail("POST", eco_post, 429, retry_after=0.1)
    other = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, "hi all, just joined")
    reply = await h.discord.wait_for_message(
        h.ECO_CHANNEL, lambda m: (m.get("message_reference") or {}).get("message_id") == str(other.id))
    await settle(h)
    replies = [m for m in h.discord.messages_in(h.ECO_CHANNEL)
               if (m.get("message_reference") or {}).get("message_id") in (str(other.id), str(first.id))]
    assert replies == [reply] and "Welcome" in reply.text()
    assert "Traceback" not in h.logs
