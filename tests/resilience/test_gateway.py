"""Gateway drops: RESUME (missed events replayed) and a fresh IDENTIFY after an invalid session (missed
events lost, caught up from REST). Around each drop the same reaction, message and interaction events
are delivered again, as Discord may: no reply, vote, decision or announcement happens twice."""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from bot.db.models.review import ReviewVote
from bot.db.models.transfers import TransferEvent
from tests.resilience._support import (
    APPROVE,
    card_of,
    dm_texts,
    settle,
    setup_transfer_world,
    submitted_request,
    thread_texts,
    wait_card,
    wait_for,
    wait_state,
)

TWO_APPROVALS = {"review": {"approvals_required": 2}, "discord": {"message_content": True}}
TRANSFER_Q = "How do I transfer my extension to pallets-eco?"


def replay(h, event: str, *, where=lambda d: True) -> int:
    """Deliver every already-dispatched `event` matching `where` once more (Discord's at-least-once)."""
    payloads = [copy.deepcopy(p["d"]) for p in list(h.discord.dispatched) if p["t"] == event and where(p["d"])]
    for data in payloads:
        h.discord.dispatch(event, data)
    return len(payloads)


def bot_replies_to(h, message_id: int) -> list:
    return [m for m in h.discord.messages_in(h.ECO_CHANNEL)
            if m.author_id == h.discord.bot_user.id
            and (m.get("message_reference") or {}).get("message_id") == str(message_id)]


async def decision_count(h, rid: int) -> int:
    async with h.db() as s:
        return int(await s.scalar(select(func.count()).where(
            TransferEvent.request_id == rid, TransferEvent.action.in_(("review.approved", "review.rejected")))))


async def vote_rows(h, rid: int) -> list[tuple[int, str]]:
    async with h.db() as s:
        return sorted((r.user_id, r.emoji) for r in await s.scalars(select(ReviewVote).where(ReviewVote.request_id
                                                                                             == rid)))


async def test_resume_replays_missed_events_once_and_duplicates_change_nothing(make_harness):
    h = await make_harness(**TWO_APPROVALS)
    setup_transfer_world(h)
    rid = await submitted_request(h)
    card = await card_of(h, rid)
    question = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, TRANSFER_Q)
    await wait_for(lambda: bot_replies_to(h, question.id), what="the FAQ answer and welcome")
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, "1/2")

    await h.discord.drop_connection(resumable=True)
    # Missed while down: queued in the session and replayed on RESUME.
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    late = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, "thanks, that helps a lot")
    await h.discord.wait_until_connected()
    await wait_state(h, rid, "approved")
    await settle(h)
    assert h.discord.resume_count == 1

    # Discord may deliver events again (a second RESUME replays from an older sequence).
    assert replay(h, "MESSAGE_REACTION_ADD") >= 2
    assert replay(h, "MESSAGE_CREATE", where=lambda d: d["channel_id"] == str(h.ECO_CHANNEL)
                  and d["author"]["id"] != str(h.discord.bot_user.id)) >= 2
    await h.discord.drop_connection(resumable=True)
    await h.discord.wait_until_connected()
    await settle(h)

    assert await decision_count(h, rid) == 1
    assert await vote_rows(h, rid) == sorted([(h.MAINTAINER, APPROVE), (h.MAINTAINER2, APPROVE)])
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1
    assert len(dm_texts(h, h.USER)) == 1
    replies = bot_replies_to(h, question.id)
    assert len(replies) == 1, [r.text() for r in replies]  # welcome and answer in one reply, once
    assert bot_replies_to(h, late.id) == []
    assert h.discord.resume_count == 2 and h.discord.identify_count == 1


async def test_replayed_tick_interaction_announces_once(make_harness):
    h = await make_harness()
    setup_transfer_world(h)
    rid = await submitted_request(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    h.github.add_member("pallets-eco", "alice")
    h.github.transfer_repo("alice/flask-foo", "pallets-eco")
    h.pypi.set_roles("Flask-Foo", [("Owner", "alice"), ("Owner", "davidism")])
    repo = h.github.repo("pallets-eco/flask-foo")
    repo["files"][".github/workflows/publish.yaml"] = "name: Publish\n"
    repo["files"]["README.md"] = "# Flask-Foo\n\nPart of the Pallets Community Ecosystem.\n"
    h.clock.advance(hours=1)
    h.pypi.add_release("Flask-Foo", "2.0.0", h.clock.now())
    await h.bot.get_cog("Review").run_tracking_pass()
    await wait_state(h, rid, "transferring")
    first = await h.slash(h.MAINTAINER, "eco tick", request=rid, item="readthedocs")
    await first.wait_message()

    await h.discord.drop_connection(resumable=True)
    last = await h.slash(h.MAINTAINER, "eco tick", request=rid, item="test_pypi")  # queued while down
    await h.discord.wait_until_connected()
    assert "Ticked" in (await last.wait_message()).text()
    await wait_state(h, rid, "done")
    await settle(h)
    # The same interaction delivered twice: Discord refuses the second acknowledgement (40060).
    assert replay(h, "INTERACTION_CREATE", where=lambda d: d["id"] == str(last.id)) == 1
    await settle(h)
    await h.discord.drop_connection(resumable=True)
    await h.discord.wait_until_connected()
    await settle(h)

    announcements = [m for m in h.discord.messages_in(h.ECO_CHANNEL) if "is now part of the Pallets" in m.text()]
    assert len(announcements) == 1
    assert sum("Every checklist step is done" in t for t in thread_texts(h, card.id)) == 1
    assert len(last.callbacks) == 1 and [c.status for c in last.rejected_callbacks] == [400]
    async with h.db() as s:
        ticks = await s.scalar(select(func.count()).where(TransferEvent.request_id == rid,
                                                          TransferEvent.to_state == "done"))
    assert ticks == 1


async def test_fresh_identify_catches_up_lost_reactions_and_replays_change_nothing(make_harness):
    h = await make_harness(**TWO_APPROVALS)
    setup_transfer_world(h)
    rid = await submitted_request(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, "1/2")
    welcome_for = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, "hello everyone, new here")
    await wait_for(lambda: bot_replies_to(h, welcome_for.id), what="the welcome")

    async with h.discord.gateway_paused():  # the bot can't reconnect until the block ends
        await h.discord.drop_connection(resumable=False)
        await wait_for(lambda: h.discord.identify_count == 1 and not h.discord.is_connected,
                       what="the invalid session")
        # Lost: the session is invalid, so Discord never delivers this event.
        await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await h.discord.wait_until_connected()
    assert h.discord.identify_count == 2
    # Catch-up on READY reads the card's reactions over REST.
    await wait_state(h, rid, "approved")
    await settle(h)

    assert replay(h, "MESSAGE_REACTION_ADD") >= 1
    assert replay(h, "MESSAGE_CREATE", where=lambda d: d["id"] == str(welcome_for.id)) == 1
    await settle(h)
    assert await decision_count(h, rid) == 1
    assert await vote_rows(h, rid) == sorted([(h.MAINTAINER, APPROVE), (h.MAINTAINER2, APPROVE)])
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1
    assert len(dm_texts(h, h.USER)) == 1
    assert len(bot_replies_to(h, welcome_for.id)) == 1
