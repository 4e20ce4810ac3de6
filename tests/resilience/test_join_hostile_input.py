"""The hostile corpus (tests/resilience/hostile_strings.py) through every new `/eco join` field: the
`about` text, the three project options (typed and autocompleted) and the maintainers' rejection reason.
Nothing pings, nothing fails with an internal error, the card and messages stay within Discord's limits
(the fake Discord refuses what the real one would), and the quoted text is inert."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.db.models.join import JoinRequest
from bot.markdown import escape
from bot.services.join import clean_about
from tests.e2e.test_join_flow import CLIENT, JOIN_CONFIG, SECRETS, join_id_of, seed_projects, setup_join_world, stored
from tests.resilience._support import assert_no_pings, settle, wait_for
from tests.resilience.hostile_strings import STRINGS

APOLOGY = "something went wrong on my side"
EMPTY = '{"merged_prs": 0, "open_prs": 0, "issues": 0, "links": []}'


@pytest.fixture
async def h(make_harness):
    harness = await make_harness(github=CLIENT, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(harness)
    await seed_projects(harness)
    return harness


def _clear(msg, text: str) -> None:
    assert msg.text().strip(), f"empty answer to {text!r}"
    assert APOLOGY not in msg.text(), f"internal error on {text!r}: {msg.text()}"
    assert_no_pings(msg)


async def test_hostile_project_options_and_autocomplete(h):
    for text in STRINGS:
        value = text[:100]  # Discord refuses longer values for this option (max_length 100)
        if not value.strip():
            continue
        answer = await (await h.slash(h.USER, "eco join", about="Hello", project=value)).wait_message()
        _clear(answer, text)
        assert answer.ephemeral
        assert "is not one of the pallets-eco projects" in answer.text(), (text, answer.text())
        typed = await h.discord.autocomplete(h.USER, "eco join", focused="project2", value=value,
                                             options={"about": "x"})
        choices = await wait_for(lambda t=typed: t.choices is not None and [t.choices], what="choices")
        assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices[0])
    async with h.db() as session:
        assert (await session.scalar(JoinRequest.__table__.select().limit(1))) is None


async def test_hostile_about_reaches_the_card_inert(h):
    cog = h.bot.get_cog("Join")
    for n, text in enumerate(STRINGS):
        about = text[:1000]  # the option's max_length
        answer = await (await h.slash(h.USER, "eco join", about=about)).wait_message()
        _clear(answer, text)
        stored_about = clean_about(about, 500)
        if not stored_about:
            assert "Tell the maintainers a little about you" in answer.text()
            continue
        jid = join_id_of(answer)
        row = await stored(h, jid)
        assert row.about == stored_about
        assert "\u202e" not in row.about and "\x00" not in row.about
        # Proven (as the device flow would) and put to the maintainers: the card quotes the text inert.
        async with h.db() as session:
            await session.execute(update(JoinRequest).where(JoinRequest.id == jid).values(
                state="submitted", github_login="carol", contributions_json=EMPTY, proven_at=h.clock.now()))
            await session.commit()
        await cog.run_pass()
        card = await h.discord.wait_for_message(h.review_channel_id, lambda m, j=jid: f"Join request #{j}" in m.text())
        _clear(card, text)
        shown = escape(stored_about, 500).split("\n")[0]
        assert "> " + shown[:200] in card.text() or len("> " + shown) > 1000, (text, card.text())
        async with h.db() as session:  # closed, so the member may ask again in the next round
            await session.execute(update(JoinRequest).where(JoinRequest.id == jid).values(state="withdrawn"))
            await session.commit()
        if n % 20 == 0:
            await settle(h, rounds=1)


@pytest.mark.parametrize("text", [s for s in STRINGS if s.strip()][::7])
async def test_hostile_rejection_reason_reaches_the_person_inert(h, text):
    service = h.bot.get_cog("Join").service
    info = await service.ask(h.USER, h.guild_id, (), "about me")
    async with h.db() as session:
        await session.execute(update(JoinRequest).where(JoinRequest.id == info.id).values(
            state="rejected", github_login="carol", decided_by=h.MAINTAINER, decided_at=h.clock.now(),
            review_thread_id=h.review_channel_id))
        await session.commit()
    cog = h.bot.get_cog("Join")
    await cog.after_rejection(info.id, h.MAINTAINER)
    prompt = await h.discord.wait_for_message(h.review_channel_id, lambda m: "Give the reason" in str(m.components))
    form = await h.discord.click(h.MAINTAINER2, prompt, f"eco:join:reason:{info.id}")
    await form.wait_ack()
    sent = await h.discord.submit_modal(h.MAINTAINER2, form, {"reason": text[:1500]})
    done = await sent.wait_message()
    _clear(done, text)
    await settle(h)
    dms = h.discord.messages_in(h.discord.dm_channel(h.USER).id)
    if (await stored(h, info.id)).decision_reason:
        assert dms, f"the reason {text!r} did not reach the person"
    for msg in dms:
        _clear(msg, text)
