"""Two approvals needed, twelve given at the same moment on a join card: exactly one decision and one
invitation. On PostgreSQL (READ COMMITTED) two vote transactions could each miss the other's vote, so
votes on one request are taken in turn (the request row is read FOR UPDATE, as for transfer votes); CI
runs this there too. A guard: it was not seen failing without the lock in three runs here."""

from __future__ import annotations

import asyncio

from tests.e2e.test_join_flow import (
    APPROVE,
    CLIENT,
    JOIN_CONFIG,
    SECRETS,
    _state,
    ask,
    join_card,
    prove,
    seed_projects,
    setup_join_world,
)
from tests.resilience._support import settle, wait_for


async def test_simultaneous_approvals_decide_once(make_harness):
    h = await make_harness(github=CLIENT, join={**JOIN_CONFIG, "approvals_required": 2}, env=SECRETS)
    setup_join_world(h)
    await seed_projects(h)
    maintainers = [960_000_000_000_000_000 + n for n in range(12)]
    for uid in maintainers:
        h.discord.add_member(h.guild_id, uid, f"maint-{uid % 100}", roles=(h.maintainer_role_id,))
    jid, _ = await prove(h, await ask(h, project="flask-foo"))
    card = await join_card(h, jid, "waiting for votes")

    await asyncio.gather(*(h.discord.react(uid, card, APPROVE) for uid in maintainers))
    await wait_for(lambda: _state(h, jid, "approved"), what="approval")
    await settle(h)
    assert [i for i in h.github.invitations if i[1] == "carol"] == [("pallets-eco", "carol", "member", "org-admin")]
