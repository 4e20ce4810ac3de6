"""Audit of `/eco join` asks: each request that is signed in gets a card in the review channel with a thread
and three GitHub searches. One open request per member held, but withdrawing and asking again had no wait,
so a member could put card after card in front of the maintainers. The transfers' submission cooldown
(`review.submit_cooldown_seconds`) now applies between two join requests of a member too."""

from __future__ import annotations

from tests.e2e.test_join_flow import CLIENT, JOIN_CONFIG, SECRETS, ask, join_id_of, seed_projects, setup_join_world


async def test_withdraw_and_ask_again_waits_for_the_submission_cooldown(make_harness):
    h = await make_harness(github=CLIENT, join=JOIN_CONFIG, env=SECRETS, review={"submit_cooldown_seconds": 120.0})
    setup_join_world(h)
    await seed_projects(h)
    first = await ask(h)
    join_id_of(first)
    withdrawn = await (await h.slash(h.USER, "eco withdraw")).wait_message()
    assert "withdrawn" in withdrawn.text()
    again = await ask(h)
    assert "eco:join:prove:" not in str(again.components)
    assert "wait" in again.text() and "second" in again.text(), again.text()
    assert again.ephemeral
    h.clock.advance(seconds=121)
    later = await ask(h)
    assert join_id_of(later) > join_id_of(first)
    # Someone else is not held up by this member's wait.
    other = await ask(h, h.USER2)
    join_id_of(other)
