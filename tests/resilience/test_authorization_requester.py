"""The authorization matrix for a requester who is a maintainer (issue 12): every decision on a request
is tried as a non-maintainer, as the requester-maintainer and as another maintainer. The requester
never confirms, approves, rejects, explains, verifies or ticks their own request; refusals say why and
change nothing in the database; only the other maintainer's attempt takes effect."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models.review import ChecklistItem
from tests.resilience._support import (
    APPROVE,
    REJECT,
    card_of,
    settle,
    setup_transfer_world,
    stored,
    submitted_request,
    wait_card,
    wait_state,
)
from tests.resilience.test_authorization import MAINTAINERS_ONLY, ignored_reaction, press, refused, slash

OWN = "another maintainer must"


async def test_a_maintainer_cannot_decide_on_their_own_request(harness):
    h = harness
    setup_transfer_world(h)
    requester, other, stranger = h.MAINTAINER, h.MAINTAINER2, h.USER2
    approve_me = await submitted_request(h, requester, verified=False)
    reject_me = await submitted_request(h, requester, verified=False, repository="alice/cronlike", pypi_project="")

    # /eco verify-manual on one's own request.
    await refused(h, slash(h, stranger, "eco verify-manual", request=approve_me, reason="trust me"), MAINTAINERS_ONLY)
    await refused(h, slash(h, requester, "eco verify-manual", request=approve_me, reason="It's mine"), OWN)
    done = await (await h.slash(other, "eco verify-manual", request=reject_me, reason="Known")).wait_message()
    assert "Verified" in done.text() and (await stored(h, reject_me)).verification_method == "manual"

    # ✅ on one's own card never counts (the bot takes it off); the other maintainer's does.
    card = await card_of(h, approve_me)
    for user in (stranger, requester):
        await ignored_reaction(h, card, user, APPROVE)
    await h.discord.react(other, card, APPROVE)
    card = await h.discord.wait_for_message(
        h.REVIEW_CHANNEL, lambda m: m.id == card.id and any(c == f"eco:review:confirm:{approve_me}"
                                                            for c, _, _ in m.buttons()))
    # Confirm approval: the requester-maintainer is refused like a stranger (this approved it before).
    await refused(h, press(h, stranger, card, f"eco:review:confirm:{approve_me}"), MAINTAINERS_ONLY)
    await refused(h, press(h, requester, card, f"eco:review:confirm:{approve_me}"), OWN)
    assert (await stored(h, approve_me)).state == "under_review"
    confirm = await h.discord.click(h.MAINTAINER2, card, f"eco:review:confirm:{approve_me}")
    assert "Approved" in (await confirm.wait_message()).text()
    await wait_state(h, approve_me, "approved")
    assert (await stored(h, approve_me)).decided_by == other
    await settle(h)

    # /eco tick on one's own transfer.
    await refused(h, slash(h, stranger, "eco tick", request=approve_me, item="readthedocs"), MAINTAINERS_ONLY)
    await refused(h, slash(h, requester, "eco tick", request=approve_me, item="readthedocs"), OWN)
    tick = await (await h.slash(other, "eco tick", request=approve_me, item="readthedocs")).wait_message()
    assert "Ticked" in tick.text()
    async with h.db() as s:
        item = await s.scalar(select(ChecklistItem).where(ChecklistItem.request_id == approve_me,
                                                          ChecklistItem.key == "readthedocs"))
    assert item.done_by == other

    # ❌ on one's own card never counts; the reason button refuses the requester before the form opens.
    card2 = await card_of(h, reject_me)
    for user in (stranger, requester):
        await ignored_reaction(h, card2, user, REJECT)
    assert (await stored(h, reject_me)).state == "under_review"
    await h.discord.react(other, card2, REJECT)
    await wait_state(h, reject_me, "rejected")
    ask = await h.discord.wait_for_message(None, lambda m: "Please give the reason" in m.text())
    await refused(h, press(h, stranger, ask, f"eco:review:reason:{reject_me}"), MAINTAINERS_ONLY)
    await refused(h, press(h, requester, ask, f"eco:review:reason:{reject_me}"), OWN)
    form = await h.discord.click(other, ask, f"eco:review:reason:{reject_me}")
    await form.wait_ack()
    sent = await h.discord.submit_modal(other, form, {"reason": "Not a Flask extension."})
    assert "Thanks" in (await sent.wait_message()).text()
    await wait_card(h, reject_me, "Reason: Not a Flask extension")


async def test_a_reason_form_opened_before_is_refused_to_the_requester_on_submit(harness):
    """The form's submission is checked too (a form opened elsewhere, or a crafted interaction)."""
    h = harness
    setup_transfer_world(h)
    rid = await submitted_request(h, h.MAINTAINER, verified=False)
    review = h.bot.get_cog("Review")
    await h.discord.react(h.MAINTAINER2, await card_of(h, rid), REJECT)
    await wait_state(h, rid, "rejected")
    from bot.errors import NotAllowed

    try:
        await review.review.set_rejection_reason(rid, h.MAINTAINER, True, "I reject myself")
    except NotAllowed as exc:
        assert OWN in exc.message
    else:
        raise AssertionError("the requester stored the reason of their own rejection")
    assert (await stored(h, rid)).decision_reason is None
