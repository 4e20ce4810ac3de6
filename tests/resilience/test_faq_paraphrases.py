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
