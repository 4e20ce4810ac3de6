"""Org invitations expire after 7 days and an org may create only so many a day (issue 14, item 3).

The fake GitHub expires invitations on the test clock. The bot re-checks an invitation old enough to
have expired, invites once more and tells the requester; a second expiry, or GitHub refusing the new
invitation, goes to the maintainers."""

from __future__ import annotations

import pytest

from tests.e2e.test_review_flow import approve, card_of, cog, dm_texts, setup_world, thread_texts, wait_card
from tests.e2e.test_review_flow import submit as insert_submitted
from tests.resilience._support import ADMIN_TOKEN, settle

ORG = "pallets-eco"


@pytest.fixture
async def h(make_harness):
    harness = await make_harness(env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    harness.github.clock = harness.clock.now  # invitations expire on the test clock
    harness.repo = setup_world(harness, admin=True)
    return harness


async def approved(h) -> tuple[int, int]:
    rid = await insert_submitted(h)
    card = await approve(h, rid)
    await wait_card(h, rid, "invitation sent to **alice**")
    assert h.github.invitations == [(ORG, "alice", "member", "org-admin")]
    return rid, card.id


def invitation_dms(h) -> list[str]:
    """What the requester was told about invitations (the stall reminders after 7 days aside)."""
    return [t for t in dm_texts(h, h.USER) if "invitation" in t and "nothing has changed" not in t]


async def tracking_pass(h):
    result = await cog(h).run_tracking_pass()
    await settle(h)
    return result


async def test_expired_invitation_is_sent_again_once_and_the_requester_is_told(h):
    rid, thread = await approved(h)
    dms = len(invitation_dms(h))
    h.clock.advance(days=6)
    await tracking_pass(h)
    assert len(h.github.invitations) == 1  # not expired yet: nothing asked, nothing sent
    assert h.github.count("GET", f"/orgs/{ORG}/memberships/alice") == 1  # only the one before inviting

    h.clock.advance(days=1, minutes=1)
    with pytest.raises(KeyError):
        h.github.accept_invitation(ORG, "alice")  # GitHub: the invitation is gone
    await tracking_pass(h)
    assert len(h.github.invitations) == 2
    told = invitation_dms(h)[dms:]
    assert len(told) == 1 and "expired" in told[0] and f"/orgs/{ORG}/invitation" in told[0], told
    assert any("expired unanswered" in t and "new one" in t for t in thread_texts(h, thread))
    await wait_card(h, rid, "a new one was sent to **alice**")

    await tracking_pass(h)
    assert len(h.github.invitations) == 2 and len(invitation_dms(h)) == dms + 1  # once

    h.github.accept_invitation(ORG, "alice")  # the new invitation works
    await tracking_pass(h)
    await wait_card(h, rid, "~~Requester joined")


async def test_a_second_expiry_goes_to_the_maintainers_and_nothing_more_is_sent(h):
    rid, thread = await approved(h)
    h.clock.advance(days=7, minutes=1)
    await tracking_pass(h)
    dms = len(invitation_dms(h))
    h.clock.advance(days=7, minutes=1)
    await tracking_pass(h)
    assert len(h.github.invitations) == 2
    alarms = [t for t in thread_texts(h, thread) if "second invitation" in t and "expired" in t]
    assert len(alarms) == 1 and f"/orgs/{ORG}/people" in alarms[0]
    await wait_card(h, rid, "invite **alice** to pallets-eco by hand")
    h.clock.advance(days=8)
    await tracking_pass(h)
    assert len(h.github.invitations) == 2 and len(invitation_dms(h)) == dms
    assert len([t for t in thread_texts(h, thread) if "second invitation" in t]) == 1


async def test_daily_invitation_limit_on_the_new_invitation_goes_to_the_maintainers(h):
    rid, thread = await approved(h)
    dms = len(invitation_dms(h))
    h.clock.advance(days=7, minutes=1)
    h.github.invitation_daily_limit = 0  # the org used up its invitations for today
    await tracking_pass(h)
    assert len(h.github.invitations) == 1
    [alarm] = [t for t in thread_texts(h, thread) if "refused a new one" in t]
    assert "50 invitations a day" in alarm and f"/orgs/{ORG}/people" in alarm
    assert len(invitation_dms(h)) == dms  # the requester is not sent to a missing invitation
    await wait_card(h, rid, "by hand")


async def test_an_invitation_renewed_by_hand_or_accepted_is_left_alone(h):
    rid, _ = await approved(h)
    h.clock.advance(days=7, minutes=1)
    h.github.add_member(ORG, "org-admin", role="admin")
    h.github.orgs[ORG]["pending"]["alice"] = "member"  # a maintainer invited again on the website
    h.github.orgs[ORG]["pending_since"]["alice"] = h.clock.now()
    await tracking_pass(h)
    assert len(h.github.invitations) == 1
    h.clock.advance(days=1)
    await tracking_pass(h)  # re-checked a week after that, not every pass
    assert h.github.count("GET", f"/orgs/{ORG}/memberships/alice") == 2
    h.github.accept_invitation(ORG, "alice")
    await tracking_pass(h)
    await card_of(h, rid)
    await wait_card(h, rid, "~~Requester joined")
