"""Core pieces: the state machine is race-free and audited; logs never carry a secret."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.errors import Conflict
from bot.logging_setup import configure_logging
from bot.services.states import transition
from tests.dburl import database_url


@pytest.fixture
async def db(tmp_path):
    engine = create_engine(database_url(tmp_path, "t"))
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


async def _request(db, state="under_review", repo="alice/flask-foo"):
    async with db() as s:
        req = TransferRequest(
            guild_id=1, requester_id=10, repo_owner=repo.split("/")[0], repo_name=repo.split("/")[1],
            repo_key=repo.lower(), state=state,
        )
        s.add(req)
        await s.commit()
        return req.id


async def test_concurrent_transitions_change_the_row_once_and_audit_once(db):
    rid = await _request(db)
    clock = FakeClock()

    async def approve(actor):
        async with db() as s:
            req = await s.get(TransferRequest, rid)
            result = await transition(s, req, "approved", actor_id=actor, action="approve", now=clock.now(),
                                      strict=False)
            await s.commit()
            return result.changed

    results = await asyncio.gather(*(approve(100 + i) for i in range(20)))
    assert results.count(True) == 1
    async with db() as s:
        events = (await s.execute(select(func.count()).select_from(TransferEvent))).scalar()
        state = (await s.get(TransferRequest, rid)).state
    assert events == 1
    assert state == "approved"


async def test_invalid_transition_is_a_clear_error(db):
    rid = await _request(db, state="done")
    async with db() as s:
        req = await s.get(TransferRequest, rid)
        with pytest.raises(Conflict, match="This request is done; it can't become approved"):
            await transition(s, req, "approved", actor_id=1, action="approve", now=FakeClock().now())


async def test_one_open_request_per_repository_is_enforced_by_the_database(db):
    from sqlalchemy.exc import IntegrityError

    await _request(db, state="submitted", repo="alice/flask-foo")
    with pytest.raises(IntegrityError):
        await _request(db, state="draft", repo="alice/flask-foo")
    # A closed request does not hold the repository.
    await _request(db, state="withdrawn", repo="bob/flask-bar")
    await _request(db, state="submitted", repo="bob/flask-bar")


def test_secret_filter_blanks_tokens_in_messages_and_tracebacks():
    stream = io.StringIO()
    configure_logging("INFO", ["ghp_abcdef123456", "discord-token-xyz"], stream=stream)
    log = logging.getLogger("bot.test")
    log.info("calling with %s", "ghp_abcdef123456")
    try:
        raise RuntimeError("bad header: Bot discord-token-xyz")
    except RuntimeError:
        log.exception("failed")
    out = stream.getvalue()
    assert "ghp_abcdef123456" not in out and "discord-token-xyz" not in out
    assert out.count("***") >= 2
