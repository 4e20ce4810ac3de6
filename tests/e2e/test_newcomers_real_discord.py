"""Newcomer replies where real Discord differs from a lenient fake (issue 13 items 1 and 2): regulars are
not welcomed on their first message after deployment, and system notices (member join, thread created,
pins) are never answered: Discord refuses replies to them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.e2e.test_newcomers import CONTENT_ON, TRANSFER_Q, bot_messages, new_member, replies_to, reply_to, settle
from tests.fakes.discord_world import Perm
from tests.harness import Harness

REGULAR = 900_000_000_000_400_001
RECENT = 900_000_000_000_400_002


def failed_posts(h: Harness) -> list[tuple[int | None, object]]:
    """Message posts Discord refused (what the bot's log would show as "could not reply")."""
    return [(c.status, c.response) for c in h.discord.calls_to("POST", r"^/channels/\d+/messages$")
            if c.status is not None and c.status >= 400]


async def test_only_recent_members_are_welcomed(harness) -> None:
    h = harness
    now = h.clock.now()
    h.discord.add_member(h.GUILD, REGULAR, "regular", joined_at=now - timedelta(days=400))
    h.discord.add_member(h.GUILD, RECENT, "recent", joined_at=now - timedelta(days=3))

    regular_says = await h.discord.send_message(REGULAR, h.ECO_CHANNEL, "morning all")
    recent_says = await h.discord.send_message(RECENT, h.ECO_CHANNEL, "hello there")
    welcome = await reply_to(h, recent_says)
    assert "Welcome to #pallets-eco" in welcome.content
    await settle(h)
    assert replies_to(h, regular_says) == []  # a regular posting for the first time since deployment


async def test_join_window_is_configurable(make_harness) -> None:
    h = await make_harness(faq={"welcome_joined_within_days": 0})  # 0: no limit
    h.discord.add_member(h.GUILD, REGULAR, "regular", joined_at=h.clock.now() - timedelta(days=400))
    says = await h.discord.send_message(REGULAR, h.ECO_CHANNEL, "morning all")
    assert "Welcome" in (await reply_to(h, says)).content


async def test_system_notices_get_no_welcome_and_no_answer(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    h.discord.set_system_channel(h.GUILD, h.ECO_CHANNEL)
    await asyncio.sleep(0.1)
    start = bot_messages(h)[-1].id if bot_messages(h) else 0

    joined = new_member(h)  # Discord posts "<member> joined the server" in the eco channel
    notices = [m for m in h.discord.messages_in(h.ECO_CHANNEL) if m["type"] == 7]
    assert [m.author_id for m in notices] == [joined]
    # A thread named like an FAQ question: its THREAD_CREATED notice carries the name as content.
    pinned = await h.discord.send_message(h.MAINTAINER, h.ECO_CHANNEL, "useful link collection")
    await h.discord.create_thread_as_user(h.USER2, h.ECO_CHANNEL, TRANSFER_Q, message=pinned)
    await h.discord.pin_as_user(h.USER2, pinned)
    await settle(h)

    assert bot_messages(h, after_id=start) == []
    assert failed_posts(h) == []
    # The joiner's first real post is their welcome: the notice used up nothing.
    first = await h.discord.send_message(joined, h.ECO_CHANNEL, "hi, glad to be here")
    assert "Welcome to #pallets-eco" in (await reply_to(h, first)).content
    assert failed_posts(h) == []


async def test_answer_with_faq_on_a_system_notice_says_so(make_harness) -> None:
    h = await make_harness(**CONTENT_ON)
    older = await h.discord.send_message(h.MAINTAINER, h.ECO_CHANNEL, "see the guide")
    await h.discord.create_thread_as_user(h.USER2, h.ECO_CHANNEL, TRANSFER_Q, message=older)
    notice = next(m for m in h.discord.messages_in(h.ECO_CHANNEL) if m["type"] == 18)
    used = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", notice)
    note = await used.wait_message()
    assert note.ephemeral and "system notice" in note.content and "Answering" not in note.content
    await settle(h)
    assert replies_to(h, notice) == [] and failed_posts(h) == []


async def test_answer_with_faq_without_read_message_history_says_what_is_missing(make_harness) -> None:
    h = await make_harness(faq={"welcome": False})
    text = "who can publish releases of an extension in the org?"
    question = await h.discord.send_message(h.USER, h.ECO_CHANNEL, text)
    # A server admin took Read Message History from the bot in the eco channel: replies need it.
    h.discord.channels[h.ECO_CHANNEL].overwrites.append(
        {"id": h.discord.bot_user.id, "type": 1, "allow": 0, "deny": Perm.READ_MESSAGE_HISTORY}
    )
    used = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", question)
    note = await used.wait_message()
    assert note.ephemeral and "Read Message History" in note.content, note.content
    assert "Answering" not in note.content and "went wrong" not in note.content
    await settle(h)
    assert replies_to(h, question) == [] and failed_posts(h) == []
    assert [m.content for m in h.discord.messages_in(h.ECO_CHANNEL, include_ephemeral=True)
            if m.ephemeral and m.id > question.id] == [note.content]  # one answer to the maintainer, no apology

    # Granted again: the same menu answers.
    h.discord.channels[h.ECO_CHANNEL].overwrites.clear()
    again = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", question)
    assert "Answering with" in (await again.wait_message()).content


async def test_without_read_message_history_the_welcome_is_posted_without_a_reply(harness) -> None:
    h = harness
    eco = h.discord.channels[h.ECO_CHANNEL]
    eco.overwrites.append({"id": h.discord.bot_user.id, "type": 1, "allow": 0, "deny": Perm.READ_MESSAGE_HISTORY})
    h.discord.dispatch("CHANNEL_UPDATE", eco.payload())
    await asyncio.sleep(0.1)
    joined = new_member(h)
    first = await h.discord.send_message(joined, h.ECO_CHANNEL, "hello everyone")
    welcome = await h.discord.wait_for_message(
        h.ECO_CHANNEL, after_id=first.id, predicate=lambda m: m.author_id == h.discord.bot_user.id
    )
    assert welcome.content.startswith(f"<@{joined}> Welcome to #pallets-eco")
    assert welcome.mention_ids == set()  # named, not pinged
    assert failed_posts(h) == []
