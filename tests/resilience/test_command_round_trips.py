"""Database work per command (issue 18): `/eco transfer` and `/eco status` answer from the database,
and with aiosqlite every statement is several round trips to the connection's thread. A member with
nothing on file costs `/eco transfer` one SELECT (its draft and its untold expiries together; it was
two); the answers themselves are unchanged (the e2e transfer tests cover them)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event


@contextlib.contextmanager
def statements(h) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        seen.append(" ".join(statement.split()))

    engine = h.bot.deps.db.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_transfer_for_a_member_with_nothing_on_file_reads_once(harness):
    h = harness
    await (await h.slash(h.USER, "eco status")).wait_message()  # warm: command tree and pool ready
    with statements(h) as seen:
        interaction = await h.slash(h.USER2, "eco transfer")
        await interaction.wait_ack()
    assert interaction.modal is not None  # no draft: the form opens
    mine = [s for s in seen if "requester_id" in s]  # background loops may read other things meanwhile
    assert len(mine) == 1 and mine[0].startswith("SELECT"), mine
    assert not [s for s in seen if not s.startswith("SELECT")], seen  # nothing written


async def test_status_for_a_member_with_nothing_on_file_reads_once(harness):
    h = harness
    await (await h.slash(h.USER, "eco about")).wait_ack()
    with statements(h) as seen:
        interaction = await h.slash(h.USER2, "eco status")
        message = await interaction.wait_message()
    assert message.ephemeral
    # A guard (it was one already): no per-request follow-up reads for someone with no requests:
    # one read of their transfer requests and one of their join requests, nothing else.
    mine = [s for s in seen if "requester_id" in s]
    assert all(s.startswith("SELECT") for s in mine), mine
    tables = sorted(s.split(" FROM ", 1)[1].split()[0] for s in mine)
    assert tables == ["join_requests", "transfer_requests"], mine
