"""Self-tests of the fake Discord's stricter rules (each rule's source is cited where the fake
implements it): DMs opened too fast (40003), and command/autocomplete limits."""

from __future__ import annotations

import asyncio

from tests.fakes.discord import FakeDiscord, raw_request

USERS = [900_000_000_000_000_500 + i for i in range(12)]


async def open_dm(fake: FakeDiscord, user: int) -> tuple[int, dict]:
    return await raw_request(fake, "POST", "/users/@me/channels", json={"recipient_id": str(user)})


async def test_opening_dms_too_fast_answers_40003_not_429():
    async with FakeDiscord() as fake:
        for i, user in enumerate(USERS):
            fake.add_user(user, f"u{i}")
        fake.dm_open_limit = (3, 0.5)
        answers = [await open_dm(fake, u) for u in USERS[:5]]
        assert [status for status, _ in answers] == [200, 200, 200, 400, 400]
        assert answers[3][1] == {"code": 40003, "message": "You are opening direct messages too fast"}
        assert len(fake.dm_opens) == 3  # refusals don't count
        await asyncio.sleep(0.55)
        status, body = await open_dm(fake, USERS[5])
        assert status == 200 and body["recipients"][0]["id"] == str(USERS[5])
        fake.dm_open_limit = None
        assert [(await open_dm(fake, u))[0] for u in USERS] == [200] * len(USERS)


async def test_the_default_limit_refuses_an_eleventh_dm_within_ten_seconds():
    async with FakeDiscord() as fake:
        for i, user in enumerate(USERS):
            fake.add_user(user, f"u{i}")
        statuses = [(await open_dm(fake, u))[0] for u in USERS[:11]]
        assert statuses == [200] * 10 + [400]
