"""Issue 15, FAQ half, end to end: a member who asks in words the FAQ never used (volunteering, commit
access, "take over", "what do you need from me", an abandoned PyPI name, where to ask about one extension)
gets the right answer from the real discord.py client through the fake Discord; chat that shares those
words but asks nothing gets silence; the typo matcher stays cheap on hostile input."""

from __future__ import annotations

import time

import pytest

from bot.services.faq import MAX_PROCESSED, load_faq
from bot.services.newcomers import SHIPPED_FAQ
from tests.e2e.test_newcomers import CONTENT_ON, bot_messages, new_member, reply_to, settle, topic_of

PARAPHRASES = [
    ("I have some free evenings, could I volunteer as a maintainer for flask-caching?", "volunteer-maintainer",
     "/eco join"),
    ("how would I get commit access to one of the pallets-eco repositories?", "volunteer-maintainer", "/eco join"),
    ("could pallets-eco take over flask-foo? the author vanished years ago", "not-owner-fork", "fork it"),
    ("I'd like to donate flask-bar to the org, what do you need from me?", "transfer-extension", "davidism"),
    ("the pypi name of an abandoned extension, can I get it for my fork?", "abandoned-pypi-name", "PEP 541"),
    ("where can I ask about a bug in flask-session?", "ask-about-extension", "own repository"),
]


async def test_paraphrased_questions_get_the_right_answer(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    titles = {t.id: t.title for t in h.bot.get_cog("Faq").service.faq.topics}
    for text, topic_id, fact in PARAPHRASES:
        asked = await h.discord.send_message(new_member(h), h.ECO_CHANNEL, text)
        reply = await reply_to(h, asked)  # also checks: nobody pinged, the question not echoed
        assert [e["title"] for e in reply.embeds] == [titles[topic_id]], text
        assert fact in reply.embeds[0]["description"], (topic_id, fact)
        assert topic_of(reply) == topic_id  # the restart-proof "Not helpful" button names the topic
        h.clock.advance(minutes=31)


async def test_chat_with_the_same_words_gets_no_answer(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    hello = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "hi")
    before = (await reply_to(h, hello)).id  # the welcome, out of the way
    for text in (
        "I'll take over the review of the caching PR from here",
        "I volunteered to maintain the docs theme last year, happy to keep doing it",
        "the old owner gave me commit access yesterday",
        "pypi name is flask-foo, the repo is pallets-eco/flask-foo",
        "where do I put static files in a flask app?",
        "how do I give a user admin rights in flask-admin?",
    ):
        await h.discord.send_message(h.USER, h.ECO_CHANNEL, text)
        h.clock.advance(days=2)  # no per-member cooldown hides a wrong answer
    await settle(h)
    assert [m.embeds for m in bot_messages(h, after_id=before)] == []


@pytest.mark.parametrize(
    "text",
    [
        # Up to the length the matcher reads: unknown long words, each one letter off a FAQ word or not.
        "how " + " ".join(f"transferz{i:04d}x" for i in range(MAX_PROCESSED // 16)) + "?",
        "how " + " ".join(["maintainrr", "contribte", "extensoin", "abandoend"] * 25) + "?",
        "can " + "a" * (MAX_PROCESSED - 10) + "?",
    ],
)
def test_typo_matching_stays_cheap_on_hostile_questions(text: str) -> None:
    book = load_faq(SHIPPED_FAQ)
    book.match(text)
    started = time.perf_counter()
    for _ in range(20):
        book.match(text)
    assert (time.perf_counter() - started) / 20 < 0.005  # the listener's budget is microseconds per message


# ------------------------------------------------------------------ "did you mean" when asked directly

async def test_a_mention_the_bot_is_unsure_about_offers_did_you_mean_buttons(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    bot_id = h.discord.bot_user.id
    vague = f"<@{bot_id}> how does the pypi thing work?"
    asked = await h.discord.send_message(h.USER, h.ECO_CHANNEL, vague, mentions=(bot_id,))
    offer = await reply_to(h, asked)  # nobody pinged, nothing echoed
    assert "Did you mean" in offer.content and offer.embeds == []
    buttons = offer.buttons()
    assert buttons and len(buttons) <= 3
    custom_id, label, _disabled = buttons[0]
    assert custom_id == "eco:faq:show:pypi-ownership" and label == "What is needed on PyPI"

    # Anyone may press; the answer shows only to them, and the channel gets nothing new.
    channel_before = len(bot_messages(h))
    for presser in (h.USER, h.USER2):
        pressed = await h.discord.click(presser, offer, custom_id)
        shown = await pressed.wait_message()
        assert shown.ephemeral and [e["title"] for e in shown.embeds] == ["What is needed on PyPI"]
        assert "davidism" in shown.embeds[0]["description"] and shown.mention_ids == set()
    await h.restart()  # stateless button: rebuilt from its custom_id after a restart
    pressed = await h.discord.click(new_member(h), offer, custom_id)
    assert (await pressed.wait_message()).ephemeral
    await settle(h)
    assert len(bot_messages(h)) == channel_before


async def test_did_you_mean_needs_a_telling_word_and_a_known_topic(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    bot_id = h.discord.bot_user.id
    asked = await h.discord.send_message(
        h.USER, h.ECO_CHANNEL, f"<@{bot_id}> how do I set up redis sessions?", mentions=(bot_id,)
    )
    pointer = await reply_to(h, asked)
    assert "/eco faq" in pointer.content and "Did you mean" not in pointer.content and pointer.buttons() == []

    # A hand-made custom_id for a topic that doesn't exist (or was removed from faq.toml) is refused.
    button = {"type": 2, "style": 1, "label": "x", "custom_id": "eco:faq:show:no-such-topic"}
    old = h.discord.store_message(
        h.discord.channels[h.ECO_CHANNEL], h.discord.bot_user,
        {"content": "", "components": [{"type": 1, "components": [button]}]},
    )
    pressed = await h.discord.click(h.USER, old, button["custom_id"])
    reply = await pressed.wait_message()
    assert reply.ephemeral and "no longer exists" in reply.content


def test_suggest_is_offered_only_for_near_misses() -> None:
    book = load_faq(SHIPPED_FAQ)
    assert [m.topic.id for m in book.suggest("what about translations?")] == ["docs-translations"]
    assert book.suggest("how do I transfer my extension to pallets-eco?") == []  # a full match answers instead
    assert book.suggest("what is this bot for?") == []  # only everyday words
    assert book.suggest("thanks!") == []  # not a question
    assert len(book.suggest("how does the org work?")) <= 3
