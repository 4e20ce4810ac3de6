"""kill -9 in the one window a claim can't cover: after Discord created the requester's checklist DM and
before the bot recorded it (`record_requester_told`). The restarted process finds an undelivered claim
and sends again; the send carries the same nonce, so Discord (Create Message `enforce_nonce`) answers with
the message it already has and the requester reads the checklist once. The fake kills the bot from inside
its Create Message handler, right after storing the DM and before answering, so the window is hit every
time rather than by chance (test_kill9.py hits it now and then)."""

from __future__ import annotations

import signal
from typing import Any

from sqlalchemy import select

from bot.db.models.transfers import TransferEvent
from tests.resilience._support import APPROVE, card_of, dm_texts, submitted_request, wait_for, wait_state
from tests.resilience.test_kill9 import ProcessHarness, ph

__all__ = ["ph"]

CHECKLIST = "Join the org first"


async def told(h: ProcessHarness, rid: int) -> list[str]:
    async with h.db() as session:
        rows = await session.scalars(select(TransferEvent.reason).where(
            TransferEvent.request_id == rid, TransferEvent.action == "review.requester_told"))
        return [r or "" for r in rows]


async def test_kill9_after_the_checklist_dm_is_created_but_before_it_is_recorded_sends_it_once(ph):
    h = ph
    await h.start_bot()
    rid = await submitted_request(h)
    card = await card_of(h, rid)

    created: list[int] = []
    create = h.discord.create_bot_message

    def create_then_die(channel: Any, body: dict[str, Any], files: list[Any], **kw: Any) -> Any:
        msg = create(channel, body, files, **kw)
        if CHECKLIST in (body.get("content") or "") and not created:
            created.append(msg.id)
            h.proc.send_signal(signal.SIGKILL)  # the bot never sees Discord's answer
        return msg

    h.discord.create_bot_message = create_then_die  # type: ignore[method-assign]
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await wait_for(lambda: created, timeout=20, what="the checklist DM")
    assert await h.proc.wait() == -signal.SIGKILL
    await wait_for(lambda: not h.discord.is_connected, what="the gateway noticing the death")
    assert sum(CHECKLIST in t for t in dm_texts(h, h.USER)) == 1
    assert await told(h, rid) == []  # died inside the window: delivered, not recorded

    await h.start_bot()
    await wait_for(lambda: told(h, rid), timeout=20, what="the restarted process recording the checklist")
    await wait_state(h, rid, "approved", timeout=5)
    assert await told(h, rid) == ["dm"]
    assert sum(CHECKLIST in t for t in dm_texts(h, h.USER)) == 1  # not twice
    assert h.discord.nonce_replays == created  # the restart did send again; Discord answered with the first
    assert h.discord.unknown_routes == []
