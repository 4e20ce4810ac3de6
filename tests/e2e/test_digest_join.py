"""The maintainers' digest lists `/eco join` requests waiting for a decision (issues 16 and 17 together)."""

from __future__ import annotations

from tests.e2e.test_join_flow import _state, ask, h, join_card, prove  # noqa: F401 (h is the fixture)
from tests.resilience._support import assert_no_pings, wait_for


async def test_digest_lists_a_join_request_waiting_for_votes(h):  # noqa: F811
    asked = await ask(h, project="flask-foo")
    jid, _ = await prove(h, asked)
    card = await join_card(h, jid, "waiting for votes")

    interaction = await h.slash(h.MAINTAINER, "eco digest", channel_id=h.review_channel_id)
    await interaction.wait_message(predicate=lambda m: "Posted" in m.text())
    post = await h.discord.wait_for_message(
        h.review_channel_id, lambda m: "Join requests waiting for review (1)" in m.text()
    )
    text = post.text()
    card_link = f"https://discord.com/channels/{h.guild_id}/{h.review_channel_id}/{card.id}"
    assert f"[join #{jid}]({card_link})" in text and "**carol**" in text
    assert_no_pings(post)

    # Decided: no longer waiting.
    await h.discord.react(h.MAINTAINER, card, "\u2705")
    await wait_for(lambda: _state(h, jid, "approved"), what="approval")
    h.clock.advance(minutes=1)
    await (await h.slash(h.MAINTAINER, "eco digest", channel_id=h.review_channel_id)).wait_message(
        predicate=lambda m: "Posted" in m.text()
    )
    digests = [m for m in h.discord.messages_in(h.review_channel_id) if "digest, posted on demand" in m.text()]
    assert len(digests) == 2
    latest = digests[-1]
    assert "Join requests waiting" not in latest.text()
