"""`/eco faq user:` can't be used to ping a member over and over (issue 12 item 7): one mention per
member giving it and one per member named per `faq.ping_cooldown_seconds`; only the named member is ever
notified, never a role or @everyone."""

from __future__ import annotations

from tests.harness import Harness
from tests.resilience._support import assert_no_pings

USER3 = 900_000_000_000_002_777


async def _faq(h: Harness, by: int, target: int | None, topic: str = "code-of-conduct"):
    options = {"topic": topic}
    if target is not None:
        options["user"] = h.discord.user_option(target)
    interaction = await h.slash(by, "eco faq", **options)
    return await interaction.wait_message()


async def test_faq_mentions_are_rate_limited_per_member(harness) -> None:
    h = harness
    h.discord.add_member(h.GUILD, USER3, "third")
    first = await _faq(h, h.USER, h.USER2)
    assert not first.ephemeral and first.mention_ids == {h.USER2}
    assert_no_pings(first, allowed_users={h.USER2})

    # The same member at once, naming someone else: refused, privately, and nobody is pinged.
    again = await _faq(h, h.USER, h.CLOSED_DMS_USER)
    assert again.ephemeral and "try again in 5 min" in again.content, again.content
    # Someone else naming the member just pinged: refused too.
    piled_on = await _faq(h, USER3, h.USER2)
    assert piled_on.ephemeral and "try again in" in piled_on.content
    # Without `user` the answer is posted as always (no mention, no limit).
    plain = await _faq(h, h.USER, None)
    assert not plain.ephemeral and plain.mention_ids == set()
    # A different pair is not held back by the others' limits.
    other = await _faq(h, USER3, h.USER)
    assert not other.ephemeral and other.mention_ids == {h.USER}

    public = [m for m in h.discord.messages_in(h.ECO_CHANNEL) if m.author_id == h.discord.bot_user.id]
    assert sorted(len(m.mention_ids) for m in public if m.mention_ids) == [1, 1]

    h.clock.advance(seconds=301)
    later = await _faq(h, h.USER, h.USER2)
    assert not later.ephemeral and later.mention_ids == {h.USER2}


async def test_maintainers_are_not_limited(harness) -> None:
    h = harness
    for target in (h.USER, h.USER2, h.USER):
        posted = await _faq(h, h.MAINTAINER, target)
        assert not posted.ephemeral and posted.mention_ids == {target}


async def test_cooldown_is_configurable(make_harness) -> None:
    h = await make_harness(faq={"ping_cooldown_seconds": 30})
    await _faq(h, h.USER, h.USER2)
    refused = await _faq(h, h.USER, h.USER2)
    assert refused.ephemeral and "once every 30 s" in refused.content
    h.clock.advance(seconds=31)
    assert (await _faq(h, h.USER, h.USER2)).mention_ids == {h.USER2}
