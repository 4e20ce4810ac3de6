"""Newcomer replies through the fake Discord: one welcome per member, FAQ answers only when confident
and allowed, silence for chat, maintainers, bots and foreign threads, the "Answer with FAQ" menu,
"Not helpful" counting, `/eco faq`, and bursts or hostile messages that must not make the bot talk."""

from __future__ import annotations

import asyncio
import itertools
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import discord
from sqlalchemy import select

from bot.db.models.faq import WelcomedMember
from tests.fakes.discord_world import FakeMessage
from tests.harness import Harness

LABELLED = Path(__file__).resolve().parents[1] / "data" / "faq_labelled.toml"
TRANSFER_Q = "How do I transfer my extension to pallets-eco?"
COC_Q = "Where can I read the code of conduct?"
CONTENT_ON = {"discord": {"message_content": True}}
_member_ids = itertools.count(900_000_000_000_300_000)


def labelled() -> dict[str, list[str]]:
    with LABELLED.open("rb") as fh:
        by_topic: dict[str, list[str]] = defaultdict(list)
        for item in tomllib.load(fh)["message"]:
            by_topic[item["topic"]].append(item["text"])
    return by_topic


def new_member(h: Harness, *, bot: bool = False) -> int:
    user_id = next(_member_ids)
    h.discord.add_member(h.GUILD, user_id, f"member-{user_id}", bot=bot)
    return user_id


def bot_messages(h: Harness, channel_id: int | None = None, after_id: int = 0) -> list[FakeMessage]:
    return [
        m for m in h.discord.messages_in(channel_id or h.ECO_CHANNEL)
        if m.author_id == h.discord.bot_user.id and m.id > after_id
    ]


def replies_to(h: Harness, message: FakeMessage) -> list[FakeMessage]:
    return [
        m for m in bot_messages(h, message.channel_id)
        if (m.get("message_reference") or {}).get("message_id") == str(message.id)
    ]


async def reply_to(h: Harness, message: FakeMessage, timeout: float = 5.0) -> FakeMessage:
    reply = await h.discord.wait_for_message(
        channel_id=message.channel_id,
        after_id=message.id,
        timeout=timeout,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == str(message.id)
        and m.author_id == h.discord.bot_user.id,
    )
    assert_safe(reply, message.content)
    return reply


async def settle(h: Harness, timeout: float = 30.0) -> None:
    """Wait until the bot has handled everything sent so far. The gateway delivers in order, so once a
    last (maintainer's, never answered) message is in the bot's message cache, all earlier ones were
    seen; a short pause lets the replies they spawned land."""
    sentinel = await h.discord.send_message(h.MAINTAINER2, h.ECO_CHANNEL, "ok")
    deadline = time.monotonic() + timeout
    while discord.utils.get(h.bot.cached_messages, id=sentinel.id) is None:
        assert time.monotonic() < deadline, "the bot did not catch up with the messages sent"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.15)


def topic_of(reply: FakeMessage) -> str | None:
    for custom_id, _label, _disabled in reply.buttons():
        if custom_id and custom_id.startswith("eco:faq:nothelpful:"):
            return custom_id.rsplit(":", 1)[1]
    return None


def assert_safe(reply: FakeMessage, user_text: str) -> None:
    """Pings nobody (not even the author) and quotes nothing the user wrote."""
    assert not reply.mention_everyone
    assert reply.mention_role_ids == set()
    assert reply.mention_ids == set()
    assert reply.allowed_mentions is not None and reply.allowed_mentions.get("parse") == []
    assert not reply.allowed_mentions.get("replied_user")
    if len(user_text.strip()) >= 12:
        assert user_text.strip() not in reply.text()


def embed_titles(h: Harness, after_id: int = 0) -> list[str]:
    return [e.get("title") for m in bot_messages(h, after_id=after_id) for e in m.embeds]


# ------------------------------------------------------------------ welcome


async def test_welcome_once_per_member_even_after_a_restart(harness) -> None:
    h = harness
    first = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "hello there, I just found this channel")
    welcome = await reply_to(h, first)
    for command in ("/eco transfer", "/eco contribute", "/eco faq"):
        assert command in welcome.content
    assert "Introduce yourself here to join the org" in welcome.content  # what the channel is for
    assert welcome.embeds == [] and welcome.buttons() == []

    second = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "anyone around today?")
    maint = await h.discord.send_message(h.MAINTAINER, h.ECO_CHANNEL, "morning all")
    await settle(h)
    assert replies_to(h, second) == [] and replies_to(h, maint) == []

    for _ in range(50):  # the record is written right after the reply: wait for it (new session each time)
        async with h.db() as session:
            welcomed = (await session.scalars(select(WelcomedMember.user_id))).all()
        if h.USER in welcomed:
            break
        await asyncio.sleep(0.05)
    assert welcomed.count(h.USER) == 1

    await h.restart()
    third = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "back after the restart")
    await settle(h)
    assert replies_to(h, third) == []
    assert sum("Welcome to #pallets-eco" in m.content for m in replies_to(h, first)) == 1


# ------------------------------------------------------------------ answers


async def test_topics_are_answered_for_three_phrasings_each(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    questions = labelled()
    topics = h.bot.get_cog("Faq").service.faq.topics
    assert len(topics) >= 15
    for topic in topics:  # every topic, as a member would ask it, through the real listener
        topic_id, title = topic.id, topic.title
        assert len(questions[topic_id]) >= 3, topic_id
        for text in questions[topic_id][:3]:
            asked = await h.discord.send_message(new_member(h), h.ECO_CHANNEL, text)
            reply = await reply_to(h, asked)
            assert [e["title"] for e in reply.embeds] == [title], text
            assert topic_of(reply) == topic_id
            h.clock.advance(minutes=31)  # past the topic's cooldown for the next phrasing


async def test_ordinary_chat_gets_no_reply(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    chat = labelled()[""]
    sample = chat[:: max(1, len(chat) // 20)][:20]
    assert len(sample) == 20
    hello = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "hi")
    before = (await reply_to(h, hello)).id  # the welcome, out of the way
    for text in sample:
        await h.discord.send_message(h.USER, h.ECO_CHANNEL, text)
    maint = await h.discord.send_message(h.MAINTAINER, h.ECO_CHANNEL, "I'll cut the release after lunch")
    await settle(h)
    assert embed_titles(h, after_id=before) == []
    assert [m for m in bot_messages(h, after_id=before) if m.id < maint.id] == []


async def test_cooldowns_per_topic_per_channel_and_per_member_per_day(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    first = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    assert topic_of(await reply_to(h, first)) == "transfer-extension"

    again = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, "how can I move my flask extension into the org?")
    other_topic = await h.discord.send_message(h.USER, h.ECO_CHANNEL, COC_Q)  # USER's answer for today is used
    await settle(h)
    assert [topic_of(m) for m in replies_to(h, again)] == [None]  # USER2 gets the welcome only
    assert replies_to(h, other_topic) == []

    h.clock.advance(minutes=31)
    late = await h.discord.send_message(new_member(h), h.ECO_CHANNEL, TRANSFER_Q)
    assert topic_of(await reply_to(h, late)) == "transfer-extension"
    h.clock.advance(hours=24)
    next_day = await h.discord.send_message(h.USER, h.ECO_CHANNEL, COC_Q)
    assert topic_of(await reply_to(h, next_day)) == "code-of-conduct"


async def test_maintainer_who_replied_first_keeps_the_bot_quiet(make_harness) -> None:
    h = await make_harness(faq={"reply_delay_seconds": 0.3}, **CONTENT_ON)
    question = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    await h.discord.send_message(
        h.MAINTAINER, h.ECO_CHANNEL, "Welcome! Check the ecosystem page", reference_message_id=question.id
    )
    welcome = await reply_to(h, question)  # the welcome still comes, without the answer
    assert welcome.embeds == [] and topic_of(welcome) is None
    await asyncio.sleep(0.2)
    assert len(replies_to(h, question)) == 1

    # The member's daily answer was given back: a different question is still answered, after the delay.
    start = time.monotonic()
    other = await h.discord.send_message(h.USER, h.ECO_CHANNEL, COC_Q)
    reply = await reply_to(h, other)
    assert time.monotonic() - start >= 0.25
    assert topic_of(reply) == "code-of-conduct"


async def test_a_maintainer_answering_by_mention_also_keeps_the_bot_quiet(make_harness) -> None:
    h = await make_harness(faq={"reply_delay_seconds": 0.3}, **CONTENT_ON)
    hello = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "hi all")
    await reply_to(h, hello)  # the welcome, out of the way
    question = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    # Not Discord's reply feature: the maintainer just addresses the member.
    await h.discord.send_message(
        h.MAINTAINER, h.ECO_CHANNEL, f"<@{h.USER}> see the ecosystem page", mentions=(h.USER,)
    )
    await asyncio.sleep(0.5)
    await settle(h)
    assert replies_to(h, question) == []


async def test_bots_and_maintainers_are_ignored(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    other_bot = new_member(h, bot=True)
    ignored = [
        await h.discord.send_message(other_bot, h.ECO_CHANNEL, TRANSFER_Q),
        await h.discord.send_message(h.MAINTAINER, h.ECO_CHANNEL, TRANSFER_Q),
        await h.discord.send_message(h.MAINTAINER2, h.ECO_CHANNEL, COC_Q, mentions=(h.discord.bot_user.id,)),
    ]
    await settle(h)
    assert all(replies_to(h, m) == [] for m in ignored)
    # Nothing was used up: a member asking the same question gets the answer.
    asked = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    assert topic_of(await reply_to(h, asked)) == "transfer-extension"


async def test_without_message_content_only_mentions_are_answered(harness) -> None:
    h = harness
    plain = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    welcome = await reply_to(h, plain)
    assert welcome.embeds == []
    await settle(h)
    assert len(replies_to(h, plain)) == 1

    bot_id = h.discord.bot_user.id
    mentioned = await h.discord.send_message(h.USER, h.ECO_CHANNEL, f"<@{bot_id}> {TRANSFER_Q}", mentions=(bot_id,))
    reply = await reply_to(h, mentioned)
    assert topic_of(reply) == "transfer-extension" and "Welcome" not in reply.content
    assert TRANSFER_Q not in reply.text()

    unsure = await h.discord.send_message(
        h.USER2, h.ECO_CHANNEL, f"<@{bot_id}> how do I set up redis sessions?", mentions=(bot_id,)
    )
    pointer = await reply_to(h, unsure)
    assert "/eco faq" in pointer.content and pointer.embeds == []


async def test_threads_the_bot_did_not_start_are_ignored(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    foreign = h.discord.add_channel(h.GUILD, 900_000_000_000_000_050, "help me", 11, parent_id=h.ECO_CHANNEL,
                                    owner_id=h.USER2)
    own = h.discord.add_channel(h.GUILD, 900_000_000_000_000_051, "faq thread", 11, parent_id=h.ECO_CHANNEL)
    await asyncio.sleep(0.1)  # THREAD_CREATE reaches the bot's cache
    in_foreign = await h.discord.send_message(h.USER, foreign.id, TRANSFER_Q)
    await settle(h)
    assert bot_messages(h, foreign.id) == []
    in_own = await h.discord.send_message(h.USER, own.id, TRANSFER_Q)
    reply = await reply_to(h, in_own)
    assert topic_of(reply) == "transfer-extension" and "Welcome" not in reply.content
    assert in_foreign.id < in_own.id


# ------------------------------------------------------------------ commands and buttons


async def test_answer_with_faq_menu_is_for_maintainers(harness) -> None:
    h = harness
    text = "who can publish releases of an extension in the org?"
    question = await h.discord.send_message(h.USER, h.ECO_CHANNEL, text)
    await reply_to(h, question)  # welcome only: no message content
    refused = await h.discord.message_command(h.USER2, "Answer with FAQ", question)
    assert "maintainers" in (await refused.wait_message()).content and refused.ephemeral
    await asyncio.sleep(0.2)
    assert [m.embeds for m in replies_to(h, question)] == [[]]

    used = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", question)
    note = await used.wait_message()
    assert note.ephemeral and "Answering with" in note.content
    answer = await h.discord.wait_for_message(
        channel_id=h.ECO_CHANNEL, after_id=question.id, predicate=lambda m: topic_of(m) is not None
    )
    assert topic_of(answer) == "release-rights"
    assert_safe(answer, question.content)

    chat = await h.discord.send_message(h.USER, h.ECO_CHANNEL, "thanks, that makes sense")
    no_match = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", chat)
    assert "No confident match" in (await no_match.wait_message()).content
    # The answer is recorded right after the reply is posted: allow that write to land.
    expected = "`release-rights`: 1 answers, 0 not helpful"
    for _ in range(20):
        stats = await h.slash(h.MAINTAINER, "eco faq-stats")
        text = (await stats.wait_message()).text()
        if expected in text:
            break
        await asyncio.sleep(0.1)
    assert expected in text


async def test_answer_with_faq_and_the_automatic_answer_never_both_reply(make_harness) -> None:
    h = await make_harness(faq={"reply_delay_seconds": 0.5}, **CONTENT_ON)
    # A maintainer answers by hand while the automatic answer is still waiting out its delay.
    pending = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    used = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", pending)
    assert "Answering with" in (await used.wait_message()).content
    await asyncio.sleep(0.8)
    await settle(h)
    answers = [m for m in replies_to(h, pending) if topic_of(m)]
    assert [topic_of(m) for m in answers] == ["transfer-extension"]

    # The automatic answer came first: the menu says so instead of answering again.
    asked = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, COC_Q)
    assert topic_of(await reply_to(h, asked, timeout=5)) == "code-of-conduct"
    for _ in range(50):  # the answer is recorded right after it is posted
        if await h.bot.get_cog("Faq").service.answered_topic(asked.id):
            break
        await asyncio.sleep(0.05)
    again = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", asked)
    note = await again.wait_message()
    assert note.ephemeral and "already answered" in note.content and "Code of conduct" in note.content
    await settle(h)
    assert len([m for m in replies_to(h, asked) if topic_of(m)]) == 1


async def test_not_helpful_is_counted_once_per_user_and_shown_to_maintainers(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    asked = await h.discord.send_message(h.USER, h.ECO_CHANNEL, TRANSFER_Q)
    answer = await reply_to(h, asked)
    custom_id = "eco:faq:nothelpful:transfer-extension"

    async def press(user_id: int) -> str:
        interaction = await h.discord.click(user_id, answer, custom_id)
        message = await interaction.wait_message()
        assert message.ephemeral
        return message.content

    assert "noted" in await press(h.USER)
    assert "already" in await press(h.USER)
    assert "noted" in await press(h.USER2)
    await h.restart()  # the button keeps working: it is rebuilt from its custom_id
    assert "noted" in await press(new_member(h))

    refused = await h.slash(h.USER, "eco faq-stats")
    assert "maintainers" in (await refused.wait_message()).content
    stats = await h.slash(h.MAINTAINER, "eco faq-stats")
    text = (await stats.wait_message()).text()
    assert stats.ephemeral
    assert "`transfer-extension`: 1 answers, 3 not helpful" in text
    assert "`code-of-conduct`: 0 answers, 0 not helpful" in text


async def test_faq_command_pings_only_the_member_given(harness) -> None:
    h = harness
    with_user = await h.slash(h.USER, "eco faq", topic="pypi-ownership", user=h.discord.user_option(h.USER2))
    posted = await with_user.wait_message()
    assert not posted.ephemeral
    assert posted.mention_ids == {h.USER2}
    assert [int(u) for u in posted.allowed_mentions["users"]] == [h.USER2] and posted.allowed_mentions["parse"] == []
    assert not posted.mention_everyone and posted.mention_role_ids == set()
    assert [e["title"] for e in posted.embeds] == [h.bot.get_cog("Faq").service.faq.get("pypi-ownership").title]

    alone = await h.slash(h.USER, "eco faq", topic="code-of-conduct")
    posted = await alone.wait_message()
    assert posted.mention_ids == set() and "https://palletsprojects.com/code-of-conduct" in posted.text()

    unknown = await h.slash(h.USER, "eco faq", topic="not-a-topic")
    assert (await unknown.wait_message()).ephemeral

    typed = await h.discord.autocomplete(h.USER, "eco faq", focused="topic", value="pypi",
                                         channel_id=h.ECO_CHANNEL, guild_id=h.GUILD)
    await typed.wait_ack()
    assert typed.choices and typed.choices[0]["value"] == "pypi-ownership"
    everything = await h.discord.autocomplete(h.USER, "eco faq", focused="topic", value="",
                                              channel_id=h.ECO_CHANNEL, guild_id=h.GUILD)
    await everything.wait_ack()
    assert len(everything.choices) >= 15 and all(len(c["name"]) <= 100 for c in everything.choices)


# ------------------------------------------------------------------ load and bad input


async def test_a_burst_of_a_thousand_messages(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    users = [next(_member_ids) for _ in range(200)]
    h.discord.add_members(h.GUILD, [(u, f"raider-{u}") for u in users])
    chat = labelled()[""]
    questions = [TRANSFER_Q, COC_Q, "Can I take over an abandoned extension I don't own?"]
    first_id = h.discord.snowflake()
    start = time.monotonic()
    for n in range(1000):
        text = questions[n % 3] if n % 4 == 0 else chat[n % len(chat)]
        await h.discord.send_message(users[n % len(users)], h.ECO_CHANNEL, text)
    await settle(h)
    elapsed = time.monotonic() - start
    assert elapsed < 30, f"the listener fell behind: {elapsed:.1f}s for 1,000 messages"

    replies = bot_messages(h, after_id=first_id)
    topics = Counter(topic_of(m) for m in replies if topic_of(m))
    # One answer per topic (the cooldown) and at most 5 welcomes a minute (the clock did not move).
    assert topics == {"transfer-extension": 1, "code-of-conduct": 1, "not-owner-fork": 1}
    welcomes = [m for m in replies if "Welcome to #pallets-eco" in m.content]
    assert 1 <= len(welcomes) <= h.settings.faq.welcome_per_minute
    assert len(replies) <= len(welcomes) + 3
    assert "database is locked" not in h.logs
    assert "Traceback" not in h.logs and " ERROR " not in h.logs


async def test_hostile_messages_cause_no_crash_no_ping_and_no_answer(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    bot_id = h.discord.bot_user.id
    hostile = [
        "🎉🎉🔥🔥👍👍",
        "```python\n# how do I transfer my extension to pallets-eco?\nimport flask\n```",
        "how do I transfer my extension? " + "a" * 3960,
        "\u200b\u200b\u200d\ufeff\u200b",
        "@everyone how do I transfer my extension to pallets-eco?",
        f"<@&{h.MAINTAINER_ROLE}> how do I transfer my extension to pallets-eco?",
        f"@everyone @here how do I transfer my extension? <@{bot_id}>",
        "¿Cómo puedo transferir mi extensión a pallets-eco?",
        "Comment transférer mon extension vers pallets-eco ?",
        "如何将我的扩展转移到 pallets-eco？",
        "t\u200bh\u200ba\u200bn\u200bk\u200bs @here <@&1> <#1> <:blob:123456789012345678>",
    ]
    sent = []
    for text in hostile:
        sent.append(await h.discord.send_message(new_member(h), h.ECO_CHANNEL, text, mentions=(
            (bot_id,) if f"<@{bot_id}>" in text else ()
        )))
    await settle(h)
    for message in sent:
        for reply in replies_to(h, message):
            assert_safe(reply, message.content)
            assert reply.embeds == [] and topic_of(reply) is None
            assert reply.content.startswith("Welcome to #pallets-eco")
    assert "Traceback" not in h.logs and " ERROR " not in h.logs
    assert not h.discord.unknown_routes


async def test_a_message_starting_with_the_bot_mention_logs_no_error(harness) -> None:
    # Mention-only mode means messages like "@EcoBot how do I ...". The bot has no text commands, so
    # such a message must not be parsed as one (discord.py logs CommandNotFound as an ERROR).
    h = harness
    bot_id = h.discord.bot_user.id
    asked = await h.discord.send_message(h.USER, h.ECO_CHANNEL, f"<@{bot_id}> {TRANSFER_Q}", mentions=(bot_id,))
    assert topic_of(await reply_to(h, asked)) == "transfer-extension"
    await settle(h)
    assert "CommandNotFound" not in h.logs and " ERROR " not in h.logs


async def test_not_helpful_on_a_topic_removed_from_the_faq_says_so(harness) -> None:
    h = harness
    # An old answer whose topic has since been deleted from faq.toml.
    button = {"type": 2, "style": 2, "label": "Not helpful", "custom_id": "eco:faq:nothelpful:retired-topic"}
    old = h.discord.store_message(
        h.discord.channels[h.ECO_CHANNEL], h.discord.bot_user,
        {"content": "", "embeds": [{"title": "Retired"}], "components": [{"type": 1, "components": [button]}]},
    )
    pressed = await h.discord.click(h.USER, old, button["custom_id"])
    reply = await pressed.wait_message()
    assert reply.ephemeral and "no longer exists" in reply.content
    stats = await h.slash(h.MAINTAINER, "eco faq-stats")
    assert "retired-topic" not in (await stats.wait_message()).text()
