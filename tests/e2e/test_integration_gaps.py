"""Where the features meet, end to end: `/eco status` after approval (checklist with completion times,
verification, verdict), the review card for unverified requests and hostile text, and draft expiry."""

from __future__ import annotations

import re

import discord
import pytest
from sqlalchemy import select

from bot.db.models.transfers import TransferEvent
from tests.e2e import test_review_flow as review
from tests.e2e import test_transfer_flow as transfer
from tests.e2e import test_verification_flow as verification
from tests.services.test_eligibility import build_world


def fmt(when, style: str = "f") -> str:
    return discord.utils.format_dt(when, style)


def assert_embed_limits(embed: dict) -> None:
    """What Discord refuses with a 400 (the fake accepts anything, so the test checks)."""
    fields = embed.get("fields", [])
    assert len(embed.get("title", "")) <= 256 and len(embed.get("description", "")) <= 4096 and len(fields) <= 25
    for f in fields:
        assert 0 < len(f["value"]) <= 1024 and len(f["name"]) <= 256, f["name"]
    footer = embed.get("footer", {}).get("text", "")
    total = len(embed.get("title", "")) + len(embed.get("description", "")) + len(footer)
    assert total + sum(len(f["name"]) + len(f["value"]) for f in fields) <= 6000


async def events_of(h, rid: int) -> list[TransferEvent]:
    async with h.db() as session:
        stmt = select(TransferEvent).where(TransferEvent.request_id == rid).order_by(TransferEvent.id)
        return list((await session.scalars(stmt)).all())


def transfers_cog(h):
    found = h.bot.get_cog("Transfers")
    assert found is not None
    return found


@pytest.fixture
async def rh(harness):
    """The review world: alice owns alice/flask-thing, on PyPI as flask-thing."""
    harness.repo = review.setup_world(harness)
    yield harness
    await review.settle(harness)


@pytest.fixture
async def th(harness):
    """The intake world (alice/flask-foo and friends)."""
    build_world(harness.github, harness.pypi)
    yield harness
    await transfer.settle()


# ------------------------------------------------------------------------------------- /eco status


async def test_status_shows_the_checklist_with_completion_times_from_the_database_only(rh):
    h = rh
    rid = await review.submit(h)
    await review.approve(h, rid)
    h.clock.advance(hours=2)
    joined_at = h.clock.now()
    h.github.add_member("pallets-eco", "alice")
    await review.cog(h).run_tracking_pass()
    h.clock.advance(hours=1)
    ticked_at = h.clock.now()
    tick = await h.slash(h.MAINTAINER, "eco tick", request=rid, item="readthedocs", note="added")
    assert "Ticked" in (await tick.wait_message()).text()

    github_calls, pypi_calls = h.github.count(), h.pypi.count()
    status = await h.slash(h.USER, "eco status")
    message = await status.wait_message()
    assert status.ack_latency < 3 and message.ephemeral
    assert (h.github.count(), h.pypi.count()) == (github_calls, pypi_calls)  # answered from the database

    text = message.text()
    approved_at = (await review.stored(h, rid)).decided_at
    for expected in (
        f"#{rid} alice/flask-thing: transferring",
        "verdict: **eligible**",
        "Ownership verified",
        "as alice (GitHub sign-in as the repository's owner)",
        f"approved {fmt(approved_at, 'R')}",
        f"#{rid} checklist (2/8 done)",
        f"☑️ Requester joined the pallets-eco organisation: done {fmt(joined_at)}",
        f"☑️ Read the Docs: davidism added as maintainer: done {fmt(ticked_at)} by a maintainer",
        "⬜ Repository moved to pallets-eco",
        "⬜ Test PyPI: davidism is an Owner (or not used) (a maintainer ticks this)",
        "**Next:** Repository moved to pallets-eco (the bot ticks it by itself once it sees it) (6 steps left).",
    ):
        assert expected in text, expected
    assert_embed_limits(message.embeds[0])


# ------------------------------------------------------------------------------------- review card


async def test_failed_verification_is_explained_on_the_card_and_in_status(make_harness):
    h = await make_harness(github=verification.CLIENT, env=verification.SECRET)
    h.repo = review.setup_world(h)
    rid = await review.submit(h, verified=False)
    card = await review.wait_card(h, rid, "NOT VERIFIED")
    assert "The requester has not completed a verification yet" in card.text()
    assert "self-declared" in card.text()

    click, code = await verification.start_device(h, rid)
    h.github.approve_device(code, "mallory")  # signs in, but does not own the repository
    await verification.finish_device(h, click)

    note = "Not verified: GitHub user mallory signed in, but alice/flask-thing is owned by alice."
    card = await review.wait_card(h, rid, "mallory signed in")
    # Right under the NOT VERIFIED line, not only deep in a field.
    assert f"**NOT VERIFIED**: approving needs a maintainer's confirmation.\n> {note}" in card.embeds[0]["description"]
    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert f"⚠️ {note}" in status.text()
    await review.settle(h)


async def test_hostile_form_text_reaches_the_card_inert_and_within_limits(th):
    h = th
    role = h.discord.guilds[h.guild_id].roles[h.maintainer_role_id]
    role.mentionable = True  # even a role anyone may ping must not be pinged by echoed text
    reason = (
        f"@everyone @here <@&{h.maintainer_role_id}> <@{h.MAINTAINER}> **bold** [click](https://evil.example)\n"
        "# Heading\n> quote ||spoiler||\n"
    )
    reason += "x" * (4000 - len(reason))
    msg = await transfer.to_ready(h, reason=reason, pypi_username="alice")
    await transfer.submit(h, msg)
    [row] = await transfer.request_row(h)
    assert row.reason == reason  # stored as typed

    card = await review.card_of(h, row.id)
    assert not card.mention_everyone and not card.mention_role_ids and not card.mention_ids
    assert_embed_limits(card.embeds[0])
    text = card.text()
    assert "@everyone" not in text and "@here" not in text and f"<@&{h.maintainer_role_id}>" not in text
    assert "**bold**" not in text and not re.search(r"(?<!\\)\[click\]\(", text) and "\n# Heading" not in text
    assert "self-declared" in text
    await review.settle(h)


# ------------------------------------------------------------------------------------- draft expiry


async def test_abandoned_draft_expires_in_the_loop_and_its_owner_can_start_again(th):
    h = th
    _, saved = await transfer.fill(h, h.USER, await transfer.open_form(h, h.USER))
    old_id = int(transfer.custom_id(saved, "continue").rsplit(":", 1)[1])
    cog = transfers_cog(h)

    h.clock.advance(days=13, hours=23)
    await cog.retry_checks()  # one pass of the background loop
    assert (await review.stored(h, old_id)).state == "draft"
    h.clock.advance(hours=1)
    await cog.retry_checks()
    assert (await review.stored(h, old_id)).state == "withdrawn"
    last = (await events_of(h, old_id))[-1]
    assert (last.action, last.actor_id, last.from_state) == ("draft_expired", None, "draft")
    assert "untouched for 14 days" in last.reason

    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert f"#{old_id} alice/flask-foo: draft expired" in status.text()
    # The draft's old message: its buttons say what happened instead of failing.
    stale = await transfer.click(h, h.USER, saved, transfer.custom_id(saved, "continue"))
    assert "is an expired draft" in (await stale.wait_message()).text()

    told = await h.slash(h.USER, "eco transfer")
    notice = await told.wait_message()
    assert told.modal is None and notice.ephemeral
    assert "expired" in notice.text() and "14 days" in notice.text() and "alice/flask-foo" in notice.text()
    restart = await transfer.click(h, h.USER, notice, f"eco:transfer:restart:{old_id}")
    assert restart.modal is not None
    # Submitted untouched: the form came back filled in with the expired draft's answers.
    again = await (await h.discord.submit_modal(h.USER, restart, values={})).wait_message()
    assert "step 1 saved" in again.text()
    new = await transfer.request_row(h, requester_id=h.USER, state="draft")
    assert len(new) == 1 and new[0].id != old_id
    assert (new[0].repo_full_name, new[0].reason, new[0].pypi_username) == (
        "alice/flask-foo", transfer.FORM["reason"], "alice"
    )

    resumed = await (await h.slash(h.USER, "eco transfer")).wait_message()  # told once, then business as usual
    assert f"Your draft transfer request #{new[0].id}" in resumed.text() and "expired" not in resumed.text()


async def test_a_stale_draft_never_blocks_someone_else_and_its_owner_is_told(make_harness):
    h = await make_harness(review={"draft_expiry_days": 2})
    build_world(h.github, h.pypi)
    await transfer.fill(h, h.USER, await transfer.open_form(h, h.USER))
    [first] = await transfer.request_row(h, requester_id=h.USER)

    h.clock.advance(days=1)
    _, refused = await transfer.fill(h, h.USER2, await transfer.open_form(h, h.USER2))
    assert "already exists and is draft" in refused.text()  # a fresh draft keeps its repository

    h.clock.advance(days=1)  # two days untouched, and the loop has not run
    _, saved = await transfer.fill(h, h.USER2, await transfer.open_form(h, h.USER2))
    assert "step 1 saved" in saved.text()
    assert (await review.stored(h, first.id)).state == "withdrawn"
    assert "another request" in (await events_of(h, first.id))[-1].reason
    [taken] = await transfer.request_row(h, requester_id=h.USER2, state="draft")
    assert taken.repo_key == "alice/flask-foo"

    notice = await (await h.slash(h.USER, "eco transfer")).wait_message()
    assert "expired" in notice.text() and "2 days" in notice.text()
    await transfer.settle()


async def test_own_stale_draft_is_expired_when_its_owner_returns(th):
    h = th
    await transfer.fill(h, h.USER, await transfer.open_form(h, h.USER))
    h.clock.advance(days=15)  # no loop pass in between
    notice = await (await h.slash(h.USER, "eco transfer")).wait_message()
    assert "expired" in notice.text()
    [row] = await transfer.request_row(h, requester_id=h.USER)
    assert row.state == "withdrawn"
    async with h.db() as session:
        actions = list(await session.scalars(select(TransferEvent.action).where(TransferEvent.request_id == row.id)))
    assert actions[-2:] == ["draft_expired", "draft_expiry_told"]
