"""`/eco join` proves the GitHub login with the device flow of ownership verification, through the same
shared code (bot/services/device_flow.py): a secondary rate limit is told as a wait, an unexpected answer
for what it is, the "Sign in with GitHub" cooldown applies (counted over both features' rows), a sign-in that
fails leaves the request waiting for another one, and no token is kept."""

from __future__ import annotations

import pytest

from tests.e2e.test_join_flow import CLIENT, JOIN_CONFIG, SECRETS, ask, join_id_of, seed_projects, setup_join_world
from tests.e2e.test_join_flow import stored as stored_join


@pytest.fixture
async def h(make_harness):
    harness = await make_harness(github=CLIENT, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(harness)
    await seed_projects(harness)
    return harness


async def press(h, message, user=None) -> str:
    jid = join_id_of(message)
    click = await h.discord.click(user or h.USER, message, f"eco:join:prove:{jid}")
    told = await click.wait_message()
    assert told.ephemeral
    return told.text()


async def test_secondary_limit_on_the_sign_in_is_told_as_a_wait(h):
    asked = await ask(h)
    h.github.secondary_rate_limit(r"/login/device/code$")
    told = await press(h, asked)
    assert "rate limiting" in told and "minute" in told, told
    assert "isn't answering" not in told
    assert (await stored_join(h, join_id_of(asked))).device_code is None


async def test_device_flow_turned_off_is_named(h):
    h.github.device_flow_enabled = False
    asked = await ask(h)
    told = await press(h, asked)
    assert "refused to start the sign-in" in told and "Enable Device Flow" in told, told


async def test_denied_sign_in_leaves_the_request_waiting_and_can_be_retried(h):
    asked = await ask(h)
    jid = join_id_of(asked)
    h.github.device_flow_script(["access_denied"])
    click = await h.discord.click(h.USER, asked, f"eco:join:prove:{jid}")
    await click.wait_message()
    h.clock.advance(seconds=6)
    await h.bot.get_cog("Join").run_pass()
    told = await click.wait_message(predicate=lambda m: "cancelled on GitHub" in m.text())
    assert "Sign in with GitHub" in told.text()
    row = await stored_join(h, jid)
    assert row.state == "proving" and row.github_login is None and row.device_code is None
    assert "Sign in with GitHub" in await press(h, asked)  # a new code


async def test_the_sign_in_cooldown_applies_to_join_requests(make_harness):
    h = await make_harness(github={**CLIENT, "sign_in_cooldown_seconds": 30.0}, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(h)
    await seed_projects(h)
    asked = await ask(h)
    assert "Sign in with GitHub" in await press(h, asked)
    again = await press(h, asked)
    assert "try again in 30 second" in again, again
    h.clock.advance(seconds=31)
    assert "Sign in with GitHub" in await press(h, asked)
