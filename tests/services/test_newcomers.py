"""The restraint rules behind newcomer replies: who is welcomed, when an FAQ answer is given, and what
keeps the bot quiet (cooldowns, maintainers, bots, foreign threads, missing message content)."""

from __future__ import annotations

import itertools
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import FaqSettings
from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.db.models.faq import FaqReply, WelcomedMember
from bot.services.faq import FaqBook, load_faq
from bot.services.newcomers import SHIPPED_FAQ, IncomingMessage, NewcomerService
from tests.dburl import database_url

LABELLED = Path(__file__).resolve().parents[1] / "data" / "faq_labelled.toml"
GUILD = 1
ECO = 10
OTHER_ECO_THREAD = 11
USER, USER2, MAINT, BOT = 101, 102, 201, 301
_ids = itertools.count(5000)

TRANSFER_Q = "How do I transfer my extension to pallets-eco?"
COC_Q = "Where can I read the code of conduct?"
FORK_Q = "Flask-Mail looks abandoned, can I take it over and transfer it?"


@pytest.fixture(scope="module")
def book() -> FaqBook:
    return load_faq(SHIPPED_FAQ)


@pytest.fixture
async def db(tmp_path):
    engine = create_engine(database_url(tmp_path, "faq"))
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_service(db, book, clock):
    async def factory(**settings) -> NewcomerService:
        service = NewcomerService(db, book, clock, FaqSettings(**settings))
        await service.load()
        return service

    return factory


def msg(author: int = USER, content: str = "", **kw) -> IncomingMessage:
    fields = dict(
        message_id=next(_ids), channel_id=ECO, guild_id=GUILD, author_id=author, author_is_bot=False,
        author_is_maintainer=False, content=content,
    )
    return IncomingMessage(**(fields | kw))


def labelled() -> dict[str, list[str]]:
    with LABELLED.open("rb") as fh:
        by_topic: dict[str, list[str]] = defaultdict(list)
        for item in tomllib.load(fh)["message"]:
            by_topic[item["topic"]].append(item["text"])
    return by_topic


# ------------------------------------------------------------------ welcome


async def test_welcome_once_per_member_and_remembered_after_a_restart(make_service) -> None:
    service = await make_service()
    assert service.consider(msg(content="hi")).welcome
    assert not service.consider(msg(content="anyone around?")).welcome
    assert service.consider(msg(USER2)).welcome  # other members are welcomed too
    await service.record_welcome(GUILD, USER)
    await service.record_welcome(GUILD, USER)  # idempotent: a retried write is harmless

    restarted = await make_service()
    assert not restarted.consider(msg(content="back again")).welcome
    # USER2's welcome was decided but never recorded (the reply failed): welcomed again after a restart.
    assert restarted.consider(msg(USER2)).welcome


async def test_no_welcome_for_maintainers_bots_or_inside_threads(make_service) -> None:
    service = await make_service()
    assert not service.consider(msg(MAINT, "hello", author_is_maintainer=True)).speaks
    assert not service.consider(msg(BOT, "hello", author_is_bot=True)).speaks
    in_bot_thread = msg(channel_id=OTHER_ECO_THREAD, in_thread=True, thread_started_by_bot=True)
    assert not service.consider(in_bot_thread).welcome
    # The thread post did not use up the member's welcome in the channel itself.
    assert service.consider(msg()).welcome


async def test_welcomes_are_capped_during_a_raid_and_given_later(make_service, clock) -> None:
    service = await make_service(welcome_per_minute=3)
    raiders = range(1000, 1010)
    welcomed = [u for u in raiders if service.consider(msg(u, "hey")).welcome]
    assert welcomed == [1000, 1001, 1002]
    clock.advance(minutes=2)
    assert service.consider(msg(1003, "hey again")).welcome


async def test_welcome_can_be_switched_off(make_service) -> None:
    service = await make_service(welcome=False)
    assert not service.consider(msg(content="hi")).speaks


# ------------------------------------------------------------------ answers


async def test_every_topic_is_answered_for_at_least_three_phrasings(make_service, book) -> None:
    service = await make_service()
    questions = labelled()
    answered_topics: list[str] = []
    for topic in book.topics:
        phrasings = questions[topic.id]
        answered = set()
        for n, text in enumerate(phrasings, start=len(answered_topics) * 100):
            # A fresh author and channel each time, so no cooldown hides a match.
            decision = service.consider(msg(10_000 + n, text, channel_id=1_000 + n))
            if decision.topic is not None:
                assert decision.topic.id == topic.id, text
                answered.add(text)
        assert len(answered) >= 3, (topic.id, sorted(set(phrasings) - answered))
        answered_topics.append(topic.id)
    assert len(answered_topics) >= 15


async def test_ordinary_chat_from_the_labelled_set_gets_no_answer(make_service) -> None:
    service = await make_service()
    chat = labelled()[""]
    assert len(chat) >= 100
    answered = [text for n, text in enumerate(chat) if service.consider(msg(20_000 + n, text)).topic]
    assert answered == []


async def test_one_answer_per_topic_per_channel_per_cooldown(make_service, clock) -> None:
    service = await make_service()
    assert service.consider(msg(USER, TRANSFER_Q)).topic.id == "transfer-extension"
    assert service.consider(msg(USER2, "how can I move my flask extension into the org?")).topic is None
    # The same question elsewhere (a bot thread) is a separate conversation.
    other = msg(USER2, TRANSFER_Q, channel_id=OTHER_ECO_THREAD, in_thread=True, thread_started_by_bot=True)
    assert service.consider(other).topic.id == "transfer-extension"
    clock.advance(minutes=29)
    assert service.consider(msg(103, TRANSFER_Q)).topic is None
    clock.advance(minutes=2)
    assert service.consider(msg(104, TRANSFER_Q)).topic.id == "transfer-extension"


async def test_cooldown_is_configurable(make_service, clock) -> None:
    service = await make_service(cooldown_minutes=5)
    assert service.consider(msg(USER, TRANSFER_Q)).topic
    clock.advance(minutes=6)
    assert service.consider(msg(USER2, TRANSFER_Q)).topic


async def test_one_automatic_answer_per_member_per_day(make_service, clock) -> None:
    service = await make_service()
    assert service.consider(msg(USER, TRANSFER_Q)).topic.id == "transfer-extension"
    assert service.consider(msg(USER, COC_Q)).topic is None
    assert service.consider(msg(USER2, COC_Q)).topic.id == "code-of-conduct"
    clock.advance(hours=23)
    assert service.consider(msg(USER, FORK_Q)).topic is None
    clock.advance(hours=1, minutes=1)
    assert service.consider(msg(USER, FORK_Q)).topic.id == "not-owner-fork"


async def test_cooldowns_survive_a_restart(make_service, clock) -> None:
    service = await make_service()
    decision = service.consider(msg(USER, TRANSFER_Q))
    await service.record_answer(
        topic_id=decision.topic.id, channel_id=ECO, user_id=USER, message_id=1, reply_message_id=2, automatic=True
    )
    clock.advance(minutes=10)
    restarted = await make_service()
    assert restarted.consider(msg(USER2, TRANSFER_Q)).topic is None
    assert restarted.consider(msg(USER, COC_Q)).topic is None  # USER's daily answer is used
    clock.advance(minutes=21)
    assert (await make_service()).consider(msg(USER2, TRANSFER_Q)).topic is not None


async def test_answers_given_by_hand_do_not_set_cooldowns(make_service) -> None:
    service = await make_service()
    await service.record_answer(
        topic_id="transfer-extension", channel_id=ECO, user_id=USER, message_id=1, reply_message_id=2,
        automatic=False,
    )
    assert (await make_service()).consider(msg(USER, TRANSFER_Q)).topic is not None


async def test_maintainer_reply_is_noted_and_gives_back_the_members_daily_answer(make_service) -> None:
    service = await make_service()
    question = msg(USER, TRANSFER_Q)
    assert service.consider(question).topic is not None
    reply = msg(MAINT, "see the ecosystem page", author_is_maintainer=True, reply_to_message_id=question.message_id)
    assert not service.consider(reply).speaks
    assert service.maintainer_replied(question.message_id)
    assert not service.maintainer_replied(reply.message_id)
    service.release_user(USER)
    # The maintainer answered: that topic stays quiet, but the member may still get another answer today.
    assert service.consider(msg(USER2, TRANSFER_Q)).topic is None
    assert service.consider(msg(USER, COC_Q)).topic.id == "code-of-conduct"


async def test_a_maintainer_mentioning_the_member_after_the_question_counts_as_a_reply(make_service) -> None:
    service = await make_service()
    earlier = msg(MAINT, "welcome aboard", author_is_maintainer=True, mentioned_user_ids=frozenset({USER}))
    service.consider(earlier)
    question = msg(USER, TRANSFER_Q)
    decision = service.consider(question)
    assert decision.topic is not None
    where = dict(channel_id=ECO, author_id=USER, after=decision.order)
    # A mention before the question, or of someone else, or in another channel, is no answer to it.
    assert not service.maintainer_replied(question.message_id, **where)
    service.consider(msg(MAINT, "hi", author_is_maintainer=True, mentioned_user_ids=frozenset({USER2})))
    service.consider(msg(MAINT, "hi", author_is_maintainer=True, channel_id=OTHER_ECO_THREAD,
                         mentioned_user_ids=frozenset({USER})))
    assert not service.maintainer_replied(question.message_id, **where)
    service.consider(msg(MAINT, "see the ecosystem page", author_is_maintainer=True,
                         mentioned_user_ids=frozenset({USER})))
    assert service.maintainer_replied(question.message_id, **where)
    assert not service.maintainer_replied(question.message_id)  # no reply reference to it


async def test_maintainers_and_bots_get_no_answers(make_service) -> None:
    service = await make_service()
    assert not service.consider(msg(MAINT, TRANSFER_Q, author_is_maintainer=True)).speaks
    assert not service.consider(msg(BOT, TRANSFER_Q, author_is_bot=True)).speaks
    # ...and they used up nothing: the member's question is still answered.
    assert service.consider(msg(USER, TRANSFER_Q)).topic is not None


async def test_threads_the_bot_did_not_start_are_ignored_unless_configured(make_service) -> None:
    service = await make_service()
    foreign = dict(channel_id=OTHER_ECO_THREAD, in_thread=True, thread_started_by_bot=False)
    assert not service.consider(msg(USER, TRANSFER_Q, **foreign)).speaks
    assert service.consider(msg(USER, TRANSFER_Q)).welcome  # the thread post used up nothing

    relaxed = await make_service(answer_in_foreign_threads=True)
    decision = relaxed.consider(msg(USER2, TRANSFER_Q, **foreign))
    assert decision.topic is not None and not decision.welcome


async def test_without_message_content_only_the_welcome_is_possible(make_service) -> None:
    service = await make_service()
    decision = service.consider(msg(USER, ""))
    assert decision.welcome and decision.topic is None and not decision.unsure
    # The same member mentioning the bot is answered (Discord sends content when the bot is mentioned).
    mentioned = service.consider(msg(USER, f"<@{BOT}> {TRANSFER_Q}", mentions_bot=True))
    assert mentioned.topic.id == "transfer-extension" and not mentioned.welcome


async def test_auto_answer_can_be_switched_off(make_service) -> None:
    service = await make_service(auto_answer=False)
    decision = service.consider(msg(USER, TRANSFER_Q, mentions_bot=True))
    assert decision.welcome and decision.topic is None and not decision.unsure


async def test_unmatched_question_to_the_bot_gets_a_pointer_not_an_answer(make_service, clock) -> None:
    service = await make_service()
    service.consider(msg(USER))  # welcomed already
    assert not service.consider(msg(USER, f"thanks <@{BOT}>!", mentions_bot=True)).speaks
    assert not service.consider(msg(USER, f"<@{BOT}> 👍", mentions_bot=True)).speaks
    unsure = service.consider(msg(USER, f"<@{BOT}> how do I configure redis sessions?", mentions_bot=True))
    assert unsure.unsure and unsure.topic is None
    # One pointer per channel per cooldown, and it did not use the member's daily answer.
    assert not service.consider(msg(USER2, f"<@{BOT}> what is the weather like?", mentions_bot=True)).unsure
    assert service.consider(msg(USER, TRANSFER_Q, mentions_bot=True)).topic is not None
    clock.advance(minutes=31)
    assert not service.consider(msg(USER, f"<@{BOT}> why is CI red?", mentions_bot=True)).unsure
    assert service.consider(msg(USER2, f"<@{BOT}> why is CI red?", mentions_bot=True)).unsure


@pytest.mark.parametrize(
    "text",
    [
        "🎉🎉🎉🔥👍",
        "```python\n# how do I transfer my extension to pallets-eco?\nimport flask\n```",
        "how do I transfer " + "x" * 4000,
        "\u200b\u200b\u200b\u200d\ufeff",
        "@everyone how do I transfer my extension to pallets-eco?",
        "<@&900000000000000100> how do I transfer my extension to pallets-eco?",
        "¿Cómo transfiero mi extensión a pallets-eco?",
        "Wie kann ich meine Erweiterung zu pallets-eco übertragen?",
        "如何将我的扩展转移到 pallets-eco？",
    ],
)
async def test_hostile_or_foreign_messages_get_no_answer(make_service, text: str) -> None:
    service = await make_service()
    assert service.consider(msg(USER, text)).topic is None
    # Said to the bot, at most the "which question?" pointer: never a topic's answer.
    assert service.consider(msg(USER2, text, mentions_bot=True)).topic is None


# ------------------------------------------------------------------ records, feedback, stats


async def test_records_are_written_only_when_asked(make_service, db) -> None:
    service = await make_service()
    for n in range(50):
        service.consider(msg(30_000 + n, "just chatting"))
    async with db() as session:
        assert (await session.scalars(select(WelcomedMember))).all() == []
        assert (await session.scalars(select(FaqReply))).all() == []


async def test_not_helpful_counts_once_per_user_per_reply_and_shows_in_stats(make_service) -> None:
    service = await make_service()
    for reply_id, topic in ((1, "transfer-extension"), (2, "transfer-extension"), (3, "code-of-conduct")):
        await service.record_answer(
            topic_id=topic, channel_id=ECO, user_id=USER, message_id=100 + reply_id, reply_message_id=reply_id,
            automatic=True,
        )
    assert await service.not_helpful("transfer-extension", 1, USER)
    assert not await service.not_helpful("transfer-extension", 1, USER)
    assert await service.not_helpful("transfer-extension", 1, USER2)
    assert await service.not_helpful("transfer-extension", 2, USER)
    assert not await service.not_helpful("no-such-topic", 3, USER)

    stats = {row.topic_id: row for row in await service.stats()}
    assert (stats["transfer-extension"].answers, stats["transfer-extension"].not_helpful) == (2, 3)
    assert (stats["code-of-conduct"].answers, stats["code-of-conduct"].not_helpful) == (1, 0)
    assert stats["scope"].answers == 0
    ordered = [row.topic_id for row in await service.stats()]
    assert ordered[:2] == ["transfer-extension", "code-of-conduct"]  # most "not helpful" first


async def test_restart_loads_only_recent_automatic_answers(make_service, clock) -> None:
    service = await make_service()
    await service.record_answer(
        topic_id="transfer-extension", channel_id=ECO, user_id=USER, message_id=1, reply_message_id=2, automatic=True
    )
    clock.advance(days=2)
    restarted = await make_service()
    assert restarted.consider(msg(USER, TRANSFER_Q)).topic is not None


def test_a_welcome_that_could_not_be_sent_is_offered_again():
    from bot.clock import FakeClock
    from bot.config import FaqSettings
    from bot.services.faq import load_faq
    from bot.services.newcomers import SHIPPED_FAQ, IncomingMessage, NewcomerService

    service = NewcomerService(None, load_faq(SHIPPED_FAQ), FakeClock(), FaqSettings())  # type: ignore[arg-type]
    msg = IncomingMessage(1, 10, 100, 7, False, False, "")
    assert service.consider(msg).welcome
    assert not service.consider(msg).welcome
    service.release_welcome(100, 7)
    assert service.consider(msg).welcome
