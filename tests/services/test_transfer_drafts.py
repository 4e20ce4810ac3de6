"""Draft expiry: abandoned drafts stop holding their repository; their owner is told once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config import ConfigError, parse_settings
from bot.db.models.transfers import TransferEvent
from bot.errors import Conflict
from bot.services.transfers import DRAFT_EXPIRED, EXPIRY_TOLD
from tests.services.test_transfers import ALICE, BOB, GUILD, env, form, submitted  # noqa: F401 (env: fixture)


async def audit_rows(db, request_id: int) -> list[TransferEvent]:
    async with db() as session:
        stmt = select(TransferEvent).where(TransferEvent.request_id == request_id).order_by(TransferEvent.id)
        return list((await session.scalars(stmt)).all())


async def test_the_loop_expires_only_drafts_untouched_for_the_expiry(env):  # noqa: F811
    service, _, _, clock, db = env
    assert service.draft_expiry.days == 14  # the default
    kept = await submitted(service, BOB, repo="alice/cronlike", pypi_project="")
    draft = await service.save_form(ALICE, GUILD, form())
    clock.advance(days=10)
    await service.accept_terms(draft.id, ALICE)  # touching the draft restarts its clock
    clock.advance(days=13, hours=23)
    assert await service.expire_stale_drafts() == []
    clock.advance(hours=1)
    assert await service.expire_stale_drafts() == [draft.id]
    assert await service.expire_stale_drafts() == []  # a second pass finds nothing left

    info = await service.get(draft.id)
    assert info.state == "withdrawn" and info.expired and "expired" in info.next_step
    assert (await service.get(kept.id)).state == "submitted"  # only drafts expire
    last = (await audit_rows(db, draft.id))[-1]
    assert (last.action, last.from_state, last.to_state, last.actor_id) == (DRAFT_EXPIRED, "draft", "withdrawn", None)
    assert "14 days" in last.reason
    # The repository is free again.
    assert (await service.save_form(BOB, GUILD, form())).state == "draft"


async def test_a_stale_draft_blocking_a_repository_is_expired_for_the_next_requester(env):  # noqa: F811
    service, _, _, clock, db = env
    blocking = await service.save_form(ALICE, GUILD, form())
    clock.advance(days=13)
    with pytest.raises(Conflict, match="already exists and is draft"):
        await service.save_form(BOB, GUILD, form("Alice/Flask-Foo"))  # still fresh: it keeps the repository
    clock.advance(days=1)
    mine = await service.save_form(BOB, GUILD, form("Alice/Flask-Foo"))
    assert mine.state == "draft" and mine.requester_id == BOB and mine.id != blocking.id
    assert (await service.get(blocking.id)).expired
    last = (await audit_rows(db, blocking.id))[-1]
    assert last.action == DRAFT_EXPIRED and "another request" in last.reason


async def test_owner_is_told_once_and_a_stale_own_draft_expires_on_the_spot(env):  # noqa: F811
    service, _, _, clock, db = env
    draft = await service.save_form(ALICE, GUILD, form())
    assert (await service.start(ALICE)).draft.id == draft.id
    clock.advance(days=15)  # the loop has not run yet
    start = await service.start(ALICE)
    assert start.draft is None and start.expired.id == draft.id and start.expired.reason == form().reason
    again = await service.start(ALICE)
    assert again == type(again)(draft=None, expired=None)  # told once
    assert [e.action for e in await audit_rows(db, draft.id)][-2:] == [DRAFT_EXPIRED, EXPIRY_TOLD]
    assert (await service.start(BOB)).expired is None  # nothing to tell someone else


def test_expiry_is_configurable_and_must_be_positive():
    raw = {"discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]}}
    env_ = {"DISCORD_TOKEN": "x" * 20}
    assert parse_settings({**raw, "review": {"draft_expiry_days": 3}}, env_).review.draft_expiry_days == 3.0
    with pytest.raises(ConfigError, match="review.draft_expiry_days"):
        parse_settings({**raw, "review": {"draft_expiry_days": 0}}, env_)
