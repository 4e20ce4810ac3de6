"""Issue 13 (items 3, 4, 5, 11, 13): what real Discord does that a lenient fake hid, end to end.

The real bot against the stricter fake: private threads are seen only by their members (and Manage Threads
holders), tokens expire on the test's clock, a deferral answered by a followup is recorded as deprecated.
"""

from __future__ import annotations

import pytest

from bot.db.models.review import ReviewTracking
from bot.db.models.transfers import TransferRequest
from tests.e2e.test_review_flow import (
    ADMIN_TOKEN,
    APPROVE,
    REJECT,
    card_of,
    cog,
    settle,
    setup_world,
    stored,
    submit,
    wait_state,
)
from tests.e2e.test_review_flow import wait_until as wait_value
from tests.e2e.test_transfer_flow import FORM, custom_id, open_form, to_ready
from tests.e2e.test_transfer_flow import submit as submit_form
from tests.services.test_eligibility import build_world


@pytest.fixture
async def h(harness):
    harness.repo = setup_world(harness)
    return harness


async def requester_thread(h, rid: int):
    async def read():
        async with h.db() as s:
            return await s.get(ReviewTracking, rid)

    tracking = await wait_value(read, lambda t: t is not None and t.requester_thread_id is not None)
    return h.discord.channels[tracking.requester_thread_id]


# ----------------------------------------------------------------- 13.3 / 13.4: requester thread mode


async def test_requester_mode_keeps_maintainer_text_where_maintainers_are(make_harness):
    h = await make_harness(review={"thread_mode": "requester"}, env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    h.repo = setup_world(h, admin=True)
    h.discord.guilds[h.guild_id].roles[h.maintainer_role_id].mentionable = True
    rid = await submit(h, requester=h.CLOSED_DMS_USER)
    card = await card_of(h, rid)
    thread = await requester_thread(h, rid)
    # A private thread the bot (without Manage Threads) could add the requester to (13.4) ...
    assert thread.type == 12 and thread.parent_id == h.eco_channel_id
    assert h.CLOSED_DMS_USER in thread.thread_members and h.discord.can_view(h.CLOSED_DMS_USER, thread.id)
    # ... that maintainers without Manage Threads cannot see: so nothing meant for them goes there.
    assert not h.discord.can_view(h.MAINTAINER2, thread.id)
    # The maintainers' thread is on the card.
    await wait_value(lambda: stored(h, rid), lambda r: r.review_thread_id == card.id)

    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await settle(h)
    maintainers_see = "\n".join(h.discord.visible_texts(h.MAINTAINER2, card.id))
    requester_sees = "\n".join(h.discord.visible_texts(h.CLOSED_DMS_USER, thread.id))
    assert f"Approved by <@{h.MAINTAINER}>" in maintainers_see
    assert "Approved by" not in requester_sees
    assert "Invited **alice** to pallets-eco" in maintainers_see  # the invitation report, for maintainers
    assert "Invited **alice**" not in requester_sees
    assert "This private thread is about your transfer request" in requester_sees
    assert "Transfer the repository" in requester_sees  # their checklist

    # Two weeks without progress: the maintainers' nudge is on the card thread, the requester's in theirs.
    h.clock.advance(days=7)
    await cog(h).run_tracking_pass()
    h.clock.advance(days=7)
    await cog(h).run_tracking_pass()
    await settle(h)
    maintainers_see = "\n".join(h.discord.visible_texts(h.MAINTAINER2, card.id))
    requester_sees = "\n".join(h.discord.visible_texts(h.CLOSED_DMS_USER, thread.id))
    assert "has not progressed for 14 days" in maintainers_see
    assert "has not progressed" not in requester_sees
    assert "friendly reminder" in requester_sees


async def test_requester_mode_reason_request_stays_with_maintainers(make_harness):
    h = await make_harness(review={"thread_mode": "requester"})
    h.repo = setup_world(h)
    rid = await submit(h, requester=h.CLOSED_DMS_USER)
    card = await card_of(h, rid)
    thread = await requester_thread(h, rid)
    await h.discord.react(h.MAINTAINER, card, REJECT)
    await wait_state(h, rid, "rejected")
    ask = await h.discord.wait_for_message(card.id, lambda m: "Please give the reason" in m.text())
    assert h.discord.can_view(h.MAINTAINER2, ask.channel_id)
    assert not any("give the reason" in t for t in h.discord.visible_texts(h.CLOSED_DMS_USER, thread.id))
    click = await h.discord.click(h.MAINTAINER2, ask, f"eco:review:reason:{rid}")
    await click.wait_ack()
    done = await h.discord.submit_modal(h.MAINTAINER2, click, {"reason": "Not an extension."})
    assert "private thread" in (await done.wait_message()).text()
    told = "\n".join(h.discord.visible_texts(h.CLOSED_DMS_USER, thread.id))
    assert "was not accepted" in told and "Not an extension." in told


# ----------------------------------------------------------------- 13.5: forms that survive restarts


async def test_reason_written_across_a_restart_and_twenty_minutes_still_arrives(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, REJECT)
    await wait_state(h, rid, "rejected")
    ask = await h.discord.wait_for_message(card.id, lambda m: "Please give the reason" in m.text())
    click = await h.discord.click(h.MAINTAINER, ask, f"eco:review:reason:{rid}")
    await click.wait_ack()
    assert click.modal is not None and click.modal["custom_id"] == f"eco:review:reasonform:{rid}"

    # The maintainer writes for twenty minutes, and the bot restarts meanwhile.
    h.clock.advance(minutes=20)
    await h.restart()
    await settle(h)

    # Someone else replaying the form's custom_id is refused, and nothing is stored.
    forged = await h.discord.submit_modal(h.USER2, click, {"reason": "I decide this"})
    assert "Only Pallets maintainers" in (await forged.wait_message()).text()
    assert (await stored(h, rid)).decision_reason is None

    done = await h.discord.submit_modal(h.MAINTAINER, click, {"reason": "An application, not an extension"})
    answer = await done.wait_message()
    assert answer.ephemeral and "by DM" in answer.text()
    assert (await stored(h, rid)).decision_reason == "An application, not an extension"
    dm = h.discord.messages_in(h.discord.dm_channel(h.USER).id)
    assert any("Reason from the maintainers: An application" in m.text() for m in dm)
    assert h.discord.deprecated_uses == []  # 13.11: the deferral was answered by editing @original


async def test_edit_and_try_again_survives_a_restart_and_only_for_its_author(harness):
    h = harness
    build_world(h.github, h.pypi)
    form = await open_form(h, h.USER)
    typed = {**FORM, "repository": "https://gitlab.com/alice/flask-foo", "reason": "A long story " * 20}
    refused = await h.discord.submit_modal(h.USER, form, typed)
    msg = await refused.wait_message()
    assert "Only repositories on github.com" in msg.text()
    [retry_id] = [c for c, label, _ in msg.buttons() if label == "Edit and try again"]
    assert retry_id.startswith("eco:transfer:retry:")

    h.clock.advance(minutes=30)
    await h.restart()

    other = await h.discord.click(h.USER2, msg, retry_id)
    assert "no longer kept" in (await other.wait_message()).text() and other.modal is None

    again = await h.discord.click(h.USER, msg, retry_id)
    await again.wait_ack()
    assert again.modal is not None, again.text()
    defaults = {c["custom_id"]: c.get("value") for row in again.modal["components"] for c in row["components"]}
    assert defaults["repository"] == typed["repository"] and defaults["reason"] == typed["reason"][:4000]
    fixed = await h.discord.submit_modal(h.USER, again, {"repository": "alice/flask-foo"})
    assert "step 1 saved" in (await fixed.wait_message()).text()


# ----------------------------------------------------------------- 13.11: deferrals answered in place


async def test_deferred_answers_edit_the_loading_message(harness):
    h = harness
    build_world(h.github, h.pypi)
    ready = await to_ready(h, h.USER)
    interaction, report = await submit_form(h, ready)
    assert "Eligibility: eligible" in report.text()
    assert interaction.callbacks[0].type == 5  # deferred (the checks call GitHub and PyPI)
    assert report is interaction.response_message and not interaction.followups
    assert not interaction.deprecated_followup

    rid = int(custom_id(ready, "submit").rsplit(":", 1)[1])
    verify = await h.slash(h.USER, "eco verify", request=rid)
    shown = await verify.wait_message()
    assert "Verify" in shown.text() and shown is verify.response_message and not verify.followups
    assert h.discord.deprecated_uses == []


# ----------------------------------------------------------------- 13.13: error texts fit a message


async def test_withdraw_with_many_open_requests_still_answers(harness):
    h = harness
    async with h.db() as s:
        for n in range(80):
            name = f"flask-extension-with-a-rather-long-descriptive-name-number-{n:03d}"
            s.add(TransferRequest(
                guild_id=h.guild_id, requester_id=h.USER, state="submitted", repo_owner="someone-with-a-long-name",
                repo_name=name, repo_key=f"someone-with-a-long-name/{name}", reason="x",
            ))
        await s.commit()
    answer = await h.slash(h.USER, "eco withdraw")
    text = (await answer.wait_message()).text()
    assert "several open requests" in text and len(text) <= 2000
    assert "/eco status" in text  # the rest is one command away


def test_fit_message_keeps_short_texts_and_marks_cut_ones():
    from cogs._base import fit_message

    assert fit_message("short") == "short"
    cut = fit_message("word " * 1000)
    assert len(cut) <= 2000 and cut.endswith("(shortened)")


# ----------------------------------------------------------------- 13.9: the card's thread is public


async def test_card_thread_is_public(h):
    rid = await submit(h)
    card = await card_of(h, rid)
    await wait_value(lambda: stored(h, rid), lambda r: r.review_thread_id == card.id)
    thread = h.discord.channels[card.id]
    assert thread.type == 11  # started from the card: public, whatever the bot asks for
    assert h.discord.can_view(h.USER2, thread.id)  # anyone who reads the review channel reads it


def test_no_text_calls_the_card_thread_private():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in ("config.example.toml", "bot/config.py", "cogs/review.py"):
        assert "private thread on the review card" not in (root / path).read_text(), path


async def test_error_after_a_deferral_edits_the_loading_message(harness):
    h = harness
    h.github.add_org(h.settings.github.org)
    asked = await h.slash(h.USER, "eco contribute", project="no-such-repository")
    answer = await asked.wait_message()
    assert asked.callbacks[0].type == 5  # deferred before the lookup
    assert "I don't know a repository called `no-such-repository`" in answer.text()
    assert answer is asked.response_message and answer.ephemeral and not asked.followups
    assert h.discord.deprecated_uses == []
