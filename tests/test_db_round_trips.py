"""Database round trips the hot commands pay for (issue 18): with aiosqlite every call is a hop to
the connection's thread, so a read-only session must not end in a ROLLBACK, and a burst of commands
must not open and close extra connections. A session that wrote and did not commit still rolls back."""

from __future__ import annotations

import asyncio

import aiosqlite
from sqlalchemy import event, select, text

from bot.db import migrate
from bot.db.engine import SQLITE_POOL_SIZE, create_engine, create_session_factory
from bot.db.models.transfers import TransferRequest


async def test_read_only_sessions_send_no_rollback_but_uncommitted_writes_are_undone(tmp_path, monkeypatch):
    rollbacks: list[int] = []
    original = aiosqlite.Connection.rollback

    async def counted(self):
        rollbacks.append(1)
        return await original(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/eco.db")
    try:
        await migrate.upgrade(engine)
        db = create_session_factory(engine)
        rollbacks.clear()
        for user in range(10):
            async with db() as session:
                mine = select(TransferRequest).where(TransferRequest.requester_id == user)
                assert list(await session.scalars(mine)) == []
        assert rollbacks == []  # nothing to undo: no round trip

        async with db() as session:
            await session.execute(text("CREATE TABLE scratch (x INTEGER)"))
            await session.commit()
        async with db() as session:  # written, never committed: closing must undo it
            await session.execute(text("INSERT INTO scratch VALUES (1)"))
        assert rollbacks == [1]
        async with db() as session:
            assert (await session.execute(text("SELECT count(*) FROM scratch"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_a_burst_of_fifty_reads_reuses_the_pool(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/eco.db")
    try:
        await migrate.upgrade(engine)
        connects: list[int] = []
        event.listen(engine.sync_engine, "connect", lambda *_: connects.append(1))
        db = create_session_factory(engine)

        async def status(user: int) -> list[TransferRequest]:
            async with db() as session:
                return list(await session.scalars(select(TransferRequest).where(TransferRequest.requester_id == user)))

        for _ in range(3):
            results = await asyncio.gather(*(status(u) for u in range(50)))
            assert results == [[]] * 50
        # The pool's connections are opened once (migrations closed theirs) and kept.
        assert len(connects) <= SQLITE_POOL_SIZE
    finally:
        await engine.dispose()
