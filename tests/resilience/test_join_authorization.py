"""The authorization matrix of `/eco join` (issue 16): every new button, the reason form and the card's
reactions, tried as a non-maintainer, as the requester who is a maintainer, and as another maintainer.
Refusals are private, say why, and change nothing in the database."""

from __future__ import annotations

import pytest

from bot.errors import NotAllowed
from tests.e2e.test_join_flow import (
    APPROVE,
    CLIENT,
    JOIN_CONFIG,
    REJECT,
    SECRETS,
    ask,
    join_card,
    join_id_of,
    prove,
    seed_projects,
    setup_join_world,
    stored,
)
from tests.resilience._support import settle, wait_for
from tests.resilience.test_authorization import MAINTAINERS_ONLY, ignored_reaction, press, refused

OWN = "another maintainer must"
NOT_YOURS = "can't find that join request among yours"


@pytest.fixture
async def h(make_harness):
    harness = await make_harness(github=CLIENT, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(harness)
    await seed_projects(harness)
    return harness


async def _under_review(h, jid):
    await wait_for(lambda: _is(h, jid, "under_review"), what="card posted")


async def _is(h, jid, state):
    return (await stored(h, jid)).state == state


async def test_join_buttons_reactions_and_reason_form(h):
    requester, other, stranger = h.MAINTAINER, h.MAINTAINER2, h.USER2

    # The requester's own buttons: nobody else may sign in for, or withdraw, their request.
    asked = await ask(h, requester)
    jid = join_id_of(asked)
    for user in (stranger, other):
        await refused(h, press(h, user, asked, f"eco:join:prove:{jid}"), NOT_YOURS)
        await refused(h, press(h, user, asked, f"eco:join:withdraw:{jid}"), NOT_YOURS)
    jid, _ = await prove(h, asked, user=requester)
    card = await join_card(h, jid, "waiting for votes")
    await _under_review(h, jid)

    # ❌ from a non-maintainer or from the requester-maintainer never counts (the bot takes it off).
    for user in (stranger, requester):
        await ignored_reaction(h, card, user, REJECT)
        await ignored_reaction(h, card, user, APPROVE)
    assert (await stored(h, jid)).state == "under_review"
    await h.discord.react(other, card, REJECT)
    await wait_for(lambda: _is(h, jid, "rejected"), what="rejection")
    await settle(h)
    assert (await stored(h, jid)).decided_by == other

    # The reason button: maintainers only, never the requester; the other maintainer gets the form.
    row = await stored(h, jid)
    prompt = await h.discord.wait_for_message(row.review_thread_id, lambda m: "Give the reason" in str(m.components))
    await refused(h, press(h, stranger, prompt, f"eco:join:reason:{jid}"), MAINTAINERS_ONLY)
    await refused(h, press(h, requester, prompt, f"eco:join:reason:{jid}"), OWN)
    form = await h.discord.click(other, prompt, f"eco:join:reason:{jid}")
    await form.wait_ack()
    # The form's submission is checked again (a crafted interaction, or a form opened by someone else).
    await refused(h, lambda: h.discord.submit_modal(stranger, form, {"reason": "forged"}), MAINTAINERS_ONLY)
    await refused(h, lambda: h.discord.submit_modal(requester, form, {"reason": "I decline myself"}), OWN)
    sent = await h.discord.submit_modal(other, form, {"reason": "Come back after a few PRs."})
    assert "Thanks" in (await sent.wait_message()).text()
    assert (await stored(h, jid)).decision_reason == "Come back after a few PRs."


async def test_approval_by_the_other_maintainer_only(h):
    requester, other, stranger = h.MAINTAINER, h.MAINTAINER2, h.USER2
    asked = await ask(h, requester)
    jid, _ = await prove(h, asked, user=requester)
    card = await join_card(h, jid, "waiting for votes")
    await _under_review(h, jid)
    for user in (stranger, requester):
        await ignored_reaction(h, card, user, APPROVE)
    await h.discord.react(other, card, APPROVE)
    await wait_for(lambda: _is(h, jid, "approved"), what="approval")
    assert (await stored(h, jid)).decided_by == other
    service = h.bot.get_cog("Join").service
    with pytest.raises(NotAllowed):
        await service.set_rejection_reason(jid, stranger, False, "not a maintainer")


async def test_queue_is_for_maintainers_and_status_for_oneself(h):
    asked = await ask(h)
    jid = join_id_of(asked)
    await refused(h, lambda: h.slash(h.USER2, "eco queue"), MAINTAINERS_ONLY)
    status = await (await h.slash(h.USER2, "eco status")).wait_message()
    assert f"#{jid}" not in status.text()
    mine = await (await h.slash(h.USER, "eco status")).wait_message()
    assert f"#{jid}" in mine.text() and "sign in with GitHub" in mine.text()
