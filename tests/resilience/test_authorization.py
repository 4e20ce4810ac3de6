"""The authorization matrix: every privileged command, button and reaction tried as a non-maintainer,
as the requester and as a maintainer (and the requester-only buttons as everyone else). Refusals
must say why and change nothing in the database; only the allowed actor's attempt takes effect.
custom_ids are visible to users, so clicks on other people's (even ephemeral) messages are tried too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from sqlalchemy import select

from bot.db.models.review import ChecklistItem
from tests.resilience._support import (
    APPROVE,
    REJECT,
    card_of,
    custom_id,
    db_snapshot,
    fill,
    open_form,
    settle,
    setup_transfer_world,
    snapshot_diff,
    stored,
    submitted_request,
    wait_card,
    wait_for,
    wait_state,
)

MAINTAINERS_ONLY = "Only Pallets maintainers"
NOT_YOURS = "doesn't exist or isn't yours"
ONLY_OPENER = "Only the person who opened a request"
TRANSFER_Q = "How do I transfer my extension to pallets-eco?"


async def refused(h, act: Callable[[], Awaitable[Any]], expected: str) -> None:
    """`act` (an interaction) is answered privately with `expected` and nothing is stored."""
    await settle(h, rounds=1)
    before = await db_snapshot(h)
    interaction = await act()
    answer = await interaction.wait_message()
    assert answer.ephemeral and expected in answer.text(), answer.text()
    await settle(h, rounds=1)
    after = await db_snapshot(h)
    assert before == after, snapshot_diff(before, after)


async def ignored_reaction(h, card, user: int, emoji: str) -> None:
    await settle(h, rounds=1)
    before = await db_snapshot(h)
    await h.discord.react(user, card, emoji)
    if user != h.USER:  # the bot removes reactions that can never count (it may: Manage Messages)
        await wait_for(lambda: user not in h.discord.get_message(card.id).reactions.get(emoji, ()),
                       what="the reaction being removed")
    await asyncio.sleep(0.1)
    await settle(h, rounds=1)
    after = await db_snapshot(h)
    assert before == after, snapshot_diff(before, after)


def slash(h, user: int, command: str, **options: Any) -> Callable[[], Awaitable[Any]]:
    return lambda: h.slash(user, command, **options)


def press(h, user: int, message: Any, custom: str) -> Callable[[], Awaitable[Any]]:
    return lambda: h.discord.click(user, message, custom)


async def test_maintainer_commands_reactions_and_buttons(harness):
    h = harness
    setup_transfer_world(h)
    approve_me = await submitted_request(h, verified=False)
    reject_me = await submitted_request(h, verified=False, repository="alice/cronlike", pypi_project="")
    outsiders = (h.USER2, h.USER)  # a non-maintainer, and the requester (not a maintainer either)

    # /eco verify-manual
    for user in outsiders:
        await refused(h, slash(h, user, "eco verify-manual", request=reject_me, reason="trust me"), MAINTAINERS_ONLY)
    done = await (await h.slash(h.MAINTAINER, "eco verify-manual", request=reject_me, reason="Known")).wait_message()
    assert "Verified" in done.text() and (await stored(h, reject_me)).verification_method == "manual"

    # ✅ reactions on the review card: only a maintainer's counts; unverified needs a confirm click.
    card = await card_of(h, approve_me)
    for user in outsiders:
        await ignored_reaction(h, card, user, APPROVE)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    card = await h.discord.wait_for_message(
        h.REVIEW_CHANNEL, lambda m: m.id == card.id and any(c == f"eco:review:confirm:{approve_me}"
                                                            for c, _, _ in m.buttons()))
    for user in outsiders:
        await refused(h, press(h, user, card, f"eco:review:confirm:{approve_me}"), MAINTAINERS_ONLY)
    confirm = await h.discord.click(h.MAINTAINER2, card, f"eco:review:confirm:{approve_me}")
    assert "Approved" in (await confirm.wait_message()).text()
    await wait_state(h, approve_me, "approved")
    await settle(h)

    # /eco tick, /eco queue, /eco faq-stats
    for user in outsiders:
        await refused(h, slash(h, user, "eco tick", request=approve_me, item="readthedocs"), MAINTAINERS_ONLY)
        await refused(h, slash(h, user, "eco queue"), MAINTAINERS_ONLY)
        await refused(h, slash(h, user, "eco faq-stats"), MAINTAINERS_ONLY)
    tick = await (await h.slash(h.MAINTAINER, "eco tick", request=approve_me, item="readthedocs")).wait_message()
    assert "Ticked" in tick.text()
    async with h.db() as s:
        item = await s.scalar(select(ChecklistItem).where(ChecklistItem.request_id == approve_me,
                                                          ChecklistItem.key == "readthedocs"))
    assert item.done_by == h.MAINTAINER
    assert "alice/flask-foo" in (await (await h.slash(h.MAINTAINER, "eco queue")).wait_message()).text()
    assert "FAQ feedback" in (await (await h.slash(h.MAINTAINER, "eco faq-stats")).wait_message()).text()

    # ❌ reactions and the rejection-reason button.
    card2 = await card_of(h, reject_me)
    for user in outsiders:
        await ignored_reaction(h, card2, user, REJECT)
    await h.discord.react(h.MAINTAINER, card2, REJECT)
    await wait_state(h, reject_me, "rejected")
    ask = await h.discord.wait_for_message(None, lambda m: "Please give the reason" in m.text())
    for user in outsiders:
        await refused(h, press(h, user, ask, f"eco:review:reason:{reject_me}"), MAINTAINERS_ONLY)
    form = await h.discord.click(h.MAINTAINER, ask, f"eco:review:reason:{reject_me}")
    await form.wait_ack()
    sent = await h.discord.submit_modal(h.MAINTAINER, form, {"reason": "Not a Flask extension."})
    assert "Thanks" in (await sent.wait_message()).text()
    assert (await stored(h, reject_me)).decision_reason == "Not a Flask extension."
    await wait_card(h, reject_me, "Reason: Not a Flask extension")


async def test_answer_with_faq_is_for_maintainers(make_harness):
    h = await make_harness(discord={"message_content": True}, faq={"auto_answer": False})
    asked = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, TRANSFER_Q)
    await settle(h)
    for user in (h.USER2, h.USER):
        menu = lambda user=user: h.discord.message_command(user, "Answer with FAQ", asked)  # noqa: E731
        await refused(h, menu, MAINTAINERS_ONLY)
    assert [m for m in h.discord.messages_in(h.ECO_CHANNEL)
            if (m.get("message_reference") or {}).get("message_id") == str(asked.id) and m.embeds] == []
    ok = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", asked)
    assert "Answering with" in (await ok.wait_message()).text()
    await h.discord.wait_for_message(
        h.ECO_CHANNEL, lambda m: (m.get("message_reference") or {}).get("message_id") == str(asked.id) and m.embeds)


async def test_requester_only_buttons_refuse_everyone_else(harness):
    h = harness
    setup_transfer_world(h)
    submitted = await submitted_request(h, verified=False)
    _, draft_msg = await fill(h, h.USER, await open_form(h, h.USER), repository="alice/cronlike", pypi_project="")
    draft = int(custom_id(draft_msg, "continue").rsplit(":", 1)[1])
    others = (h.USER2, h.MAINTAINER)  # a stranger, and a maintainer: neither owns the request

    # The transfer form's buttons (on the requester's own ephemeral message).
    for user in others:
        for action in ("continue", "edit"):
            await refused(h, press(h, user, draft_msg, f"eco:transfer:{action}:{draft}"), NOT_YOURS)
    await h.discord.click(h.USER, draft_msg, f"eco:transfer:continue:{draft}")
    terms = await h.discord.wait_for_message(None, lambda m: m.id == draft_msg.id and "final say" in m.text())
    for user in others:
        await refused(h, press(h, user, terms, f"eco:transfer:accept:{draft}"), NOT_YOURS)
    accept = await h.discord.click(h.USER, terms, f"eco:transfer:accept:{draft}")
    await accept.wait_ack()
    ready = await h.discord.wait_for_message(None, lambda m: m.id == draft_msg.id and "ready to submit" in m.text())
    for user in others:
        await refused(h, press(h, user, ready, f"eco:transfer:submit:{draft}"), NOT_YOURS)

    # Verification buttons of someone else's request; "Verify ownership" as the transfers cog posts it.
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Verify ownership", custom_id=f"eco:verify:start:{submitted}"))
    view.stop()
    public = await h.bot.get_channel(h.ECO_CHANNEL).send("Request submitted", view=view)
    verify = await (await h.slash(h.USER, "eco verify", request=submitted)).wait_message()
    for user in others:
        await refused(h, press(h, user, public.id, f"eco:verify:start:{submitted}"), ONLY_OPENER)
        await refused(h, press(h, user, verify, f"eco:verify:topic:{submitted}"), ONLY_OPENER)
        await refused(h, slash(h, user, "eco verify", request=submitted), ONLY_OPENER)
    own = await h.discord.click(h.USER, verify, f"eco:verify:topic:{submitted}")
    challenge = await own.wait_message()
    assert "Prove it with a repository topic" in challenge.text()
    for user in others:
        await refused(h, press(h, user, challenge, f"eco:verify:check:{submitted}"), ONLY_OPENER)

    # Withdrawing someone else's request.
    confirm = await (await h.slash(h.USER, "eco withdraw", request=submitted)).wait_message()
    for user in others:
        await refused(h, press(h, user, confirm, f"eco:transfer:withdraw:{submitted}"), "Only the person who made")
        await refused(h, slash(h, user, "eco withdraw", request=submitted), f"no open request #{submitted}")
    gone = await h.discord.click(h.USER, confirm, f"eco:transfer:withdraw:{submitted}")
    await gone.wait_ack()
    await wait_state(h, submitted, "withdrawn")
