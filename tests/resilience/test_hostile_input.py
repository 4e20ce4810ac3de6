"""The hostile corpus (tests/resilience/hostile_strings.py) through every free-text field and option:
the transfer form, `/eco verify-manual` reasons, `/eco tick` notes, rejection reasons, FAQ questions
and topics, `/eco contribute` and `/eco subscribe` projects, and their autocompletes.

Each string must get a clear answer (saved, or refused with a reason: never the internal-error
apology), ping nobody, make no request to a host other than the loopback fakes, and be stored as
typed or not at all. Strings longer than what Discord lets a user type into a field are cut to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import discord
import pytest
from sqlalchemy import select

from bot.db.models.review import ChecklistItem
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.services.review import ITEMS, start_tracking
from tests.dburl import on_postgres
from tests.resilience._support import (
    FORM,
    assert_no_pings,
    card_of,
    click,
    custom_id,
    fake_hosts,
    fill,
    open_form,
    record_outbound,
    request_row,
    setup_transfer_world,
    submit,
    wait_card,
)
from tests.resilience.hostile_strings import CORPUS, STRINGS

APOLOGY = "something went wrong on my side"
OWNER = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?\Z")
REPO = re.compile(r"\A[A-Za-z0-9._-]{1,100}\Z")
PYPI = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
# What Discord lets a user type (modal max_length, or 6000 for a string option).
FORM_LIMITS = {"repository": 200, "pypi_project": 200, "github_username": 39, "pypi_username": 100, "reason": 4000}
REQUIRED = {"repository", "github_username", "reason"}


@pytest.fixture
async def outbound(harness):
    with record_outbound() as hosts:
        yield hosts
    assert set(hosts) <= fake_hosts(harness), f"requests to other hosts: {set(hosts) - fake_hosts(harness)}"
    for request in harness.github.requests + harness.pypi.requests:
        segments = request.path.split("/")
        assert ".." not in segments and "." not in segments, f"path trick reached a fake: {request.path}"


def assert_clear(msg: Any, text: str) -> None:
    assert msg.text().strip(), f"empty answer to {text!r}"
    assert APOLOGY not in msg.text(), f"internal error on {text!r}: {msg.text()}"
    assert_no_pings(msg)


def bot_messages(h) -> list:
    return [m for m in h.discord.messages.values() if m.author_id == h.discord.bot_user.id]


def stored(text: str) -> str:
    """What the database keeps of a typed text: all of it, but PostgreSQL can't hold U+0000 (bot/db/engine.py)."""
    return text.replace("\x00", "") if on_postgres() else text


def check_field(field: str, text: str, row: TransferRequest) -> None:
    """A saved value is the typed text (free text) or a strictly valid name taken from it."""
    if field == "reason":
        assert row.reason == stored(text), f"reason stored differently from what was typed: {text!r} -> {row.reason!r}"
    elif field == "repository":
        assert OWNER.match(row.repo_owner) and REPO.match(row.repo_name) and row.repo_name not in (".", ".."), (
            f"BUG in bot/services/repo_ref.py (transfers): {text!r} was stored as "
            f"{row.repo_owner!r}/{row.repo_name!r}, not a valid GitHub name ('$' in its regexes accepts a "
            "trailing newline; use \\Z or fullmatch)")
        host = urlsplit(text.strip()).hostname if "://" in text else None
        assert host in (None, "github.com", "www.github.com"), f"{text!r} accepted from host {host!r}"
    elif field == "github_username":
        assert OWNER.match(row.github_username or ""), f"{text!r} stored as {row.github_username!r}"
    elif field == "pypi_project":
        assert row.pypi_project is None or PYPI.match(row.pypi_project), f"{text!r} -> {row.pypi_project!r}"
    else:
        assert row.pypi_username is None or PYPI.match(row.pypi_username), f"{text!r} -> {row.pypi_username!r}"


async def test_transfer_form_fields(harness, outbound):
    h = harness
    setup_transfer_world(h)
    _, saved = await fill(h, h.USER, await open_form(h, h.USER))
    failures: list[str] = []
    [row] = await request_row(h)
    for field, limit in FORM_LIMITS.items():
        for text in STRINGS:
            typed = text[:limit]
            if field in REQUIRED and not typed:
                continue  # Discord does not submit a required input left empty
            before = row
            edit = await click(h, h.USER, saved, custom_id(saved, "edit"))
            answer = await (await h.discord.submit_modal(h.USER, edit, values={**FORM, field: typed})).wait_message()
            assert answer.ephemeral
            assert_clear(answer, typed)
            [row] = await request_row(h)
            if "step 1 saved" in answer.text():
                try:
                    check_field(field, typed, row)
                except AssertionError as exc:
                    failures.append(str(exc))
            else:  # refused: the draft keeps its previous answers
                assert (row.reason, row.repo_key, row.updated_at) == (before.reason, before.repo_key,
                                                                      before.updated_at), (field, typed)

    # A hostile but valid draft goes all the way: the report and the review card ping nobody.
    hostile = next(t for t in STRINGS if t.startswith(f"<@{h.MAINTAINER}> <@&"))
    edit = await click(h, h.USER, saved, custom_id(saved, "edit"))
    await (await h.discord.submit_modal(h.USER, edit, values={**FORM, "reason": hostile})).wait_message()
    await click(h, h.USER, saved, custom_id(saved, "continue"))
    await click(h, h.USER, saved, custom_id(saved, "accept"))
    _, report = await submit(h, saved)
    assert "Eligibility: eligible" in report.text()
    [row] = await request_row(h)
    await card_of(h, row.id)  # posted, with its reactions
    card = await wait_card(h, row.id, "alice/flask-foo")
    assert "@everyone" not in card.text().replace("@\u200beveryone", "")  # escaped, not just unpinged
    for msg in bot_messages(h):
        assert_no_pings(msg)
    assert not failures, "\n".join(dict.fromkeys(failures))


async def _requests(h, n: int, state: str, repo_prefix: str) -> list[int]:
    now = datetime.now(UTC)
    async with h.db() as s:
        rows = [TransferRequest(guild_id=h.GUILD, requester_id=h.USER, state=state, repo_owner="alice",
                                repo_name=f"{repo_prefix}{i}", repo_key=f"alice/{repo_prefix}{i}",
                                pypi_project="flask-foo", submitted_at=now) for i in range(n)]
        s.add_all(rows)
        await s.flush()
        if state == "approved":
            for row in rows:
                await start_tracking(s, row, now)
        await s.commit()
        return [r.id for r in rows]


async def test_maintainer_texts_verify_reason_tick_note_and_rejection_reason(harness, outbound):
    h = harness
    texts = [t for t in STRINGS if t.strip()]  # Discord refuses empty options and empty required inputs

    # /eco verify-manual: one unverified request per reason (a request is verified only once).
    verify_ids = await _requests(h, len(texts), "under_review", "verify-")
    for rid, text in zip(verify_ids, texts, strict=True):
        answer = await (await h.slash(h.MAINTAINER, "eco verify-manual", request=rid, reason=text)).wait_message()
        assert_clear(answer, text)
        async with h.db() as s:
            row = await s.get(TransferRequest, rid)
            events = list(await s.scalars(select(TransferEvent.reason).where(TransferEvent.request_id == rid)))
        if "Verified" in answer.text():
            assert events == [stored(" ".join(text.split()))] and row.verification_method == "manual"
        else:
            assert "500 characters" in answer.text() and events == [] and row.verified_at is None, text

    # /eco tick notes: eight checklist items per approved request.
    keys = [spec.key for spec in ITEMS]
    tick_ids = await _requests(h, len(texts) // len(keys) + 1, "approved", "tick-")
    for n, text in enumerate(texts):
        rid, key = tick_ids[n // len(keys)], keys[n % len(keys)]
        answer = await (await h.slash(h.MAINTAINER, "eco tick", request=rid, item=key, note=text)).wait_message()
        assert_clear(answer, text)
        async with h.db() as s:
            item = await s.scalar(
                select(ChecklistItem).where(ChecklistItem.request_id == rid, ChecklistItem.key == key))
        if "Ticked" in answer.text():
            assert item.note == stored(text), f"tick note stored differently: {len(text)} -> {len(item.note or '')}"
        else:
            assert item.done_at is None and "500" in answer.text(), (text, answer.text())

    # Rejection reasons (modal, 1,500 characters at most), relayed to the requester.
    reject_ids = await _requests(h, len(texts), "rejected", "reject-")
    review = h.bot.get_channel(h.REVIEW_CHANNEL)
    for rid, text in zip(reject_ids, texts, strict=True):
        typed = text[:1500]
        if not typed.strip():
            continue
        # The button as the review cog posts it; its DynamicItem in the running bot handles the click.
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Give the reason", custom_id=f"eco:review:reason:{rid}"))
        view.stop()
        posted = await review.send("Give the reason", view=view)
        ask = await click(h, h.MAINTAINER, posted.id, f"eco:review:reason:{rid}")
        done = await (await h.discord.submit_modal(h.MAINTAINER, ask, values={"reason": typed})).wait_message()
        assert_clear(done, typed)
        async with h.db() as s:
            row = await s.get(TransferRequest, rid)
        assert row.decision_reason == stored(typed.strip()), (typed, row.decision_reason)
    dms = h.discord.messages_in(h.discord.dm_channel(h.USER).id)
    assert len(dms) >= len(reject_ids) - 5
    for msg in bot_messages(h):
        assert_no_pings(msg)


async def test_faq_questions_topics_and_answer_with_faq(make_harness):
    h = await make_harness(discord={"message_content": True})
    with record_outbound() as hosts:
        for text in STRINGS:
            if not text:
                continue
            asked = await h.discord.send_message(h.USER, h.ECO_CHANNEL, text[:2000])
            answer = await (await h.slash(h.USER2, "eco faq", topic=text[:6000])).wait_message()
            assert_clear(answer, text)
            assert "I don't know that topic" in answer.text() or answer.embeds, text
            choices = await h.discord.autocomplete(h.USER, "eco faq", focused="topic", value=text[:100],
                                                   guild_id=h.GUILD, channel_id=h.ECO_CHANNEL)
            await choices.wait_ack()
            assert all(len(c["name"]) <= 100 for c in choices.choices or [])
            menu = await h.discord.message_command(h.MAINTAINER, "Answer with FAQ", asked)
            assert_clear(await menu.wait_message(), text)
    assert set(hosts) <= fake_hosts(h)
    replies = [m for m in bot_messages(h) if not m.ephemeral]
    assert replies, "the bot answered nothing at all"
    for msg in replies:
        assert_no_pings(msg)
        for text in STRINGS:
            if len(text.strip()) >= 12:
                assert text.strip() not in msg.content, "user text echoed in a public reply"


async def test_contribute_and_subscribe_project_options(make_harness):
    h = await make_harness()
    h.github.add_org("pallets-eco")
    h.github.add_repo("pallets-eco/flask-mail", owner_type="Organization", pushed_at=datetime.now(UTC))
    h.github.add_issue("pallets-eco/flask-mail", "Fix a docs typo", labels=["good first issue"])
    assert (await h.bot.get_cog("Contribute").service.refresh()).ok
    with record_outbound() as hosts:
        for text in STRINGS:
            if not text:
                continue
            shown = await (await h.slash(h.USER, "eco contribute", project=text[:6000])).wait_message()
            assert_clear(shown, text)
            sub = await (await h.slash(h.USER, "eco subscribe", project=text[:6000])).wait_message()
            assert_clear(sub, text)
            assert "I don't know a repository" in sub.text() or "pallets-eco/flask-mail" in sub.text(), text
            choices = await h.discord.autocomplete(h.USER, "eco contribute", focused="project", value=text[:100],
                                                   guild_id=h.GUILD, channel_id=h.ECO_CHANNEL)
            await choices.wait_ack()
            assert all(c["value"] == "flask-mail" for c in choices.choices or [])
    assert set(hosts) <= fake_hosts(h)
    from bot.db.models.contribute import Subscription

    async with h.db() as s:
        stored = set(await s.scalars(select(Subscription.project)))
    assert stored <= {"pallets-eco/flask-mail"}  # nothing but a real repository is ever stored


def test_the_corpus_covers_every_category():
    categories = {c for c, _ in CORPUS}
    assert len(CORPUS) >= 200 and len(set(STRINGS)) == len(STRINGS)
    assert categories == {"mention", "markdown", "control", "bidi", "huge", "url", "path", "injection"}
