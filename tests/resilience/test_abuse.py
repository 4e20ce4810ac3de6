"""Abuse by people in a public channel (issue 12, items 4-7): unproven logins invited, squatting and
flooding, deciding on one's own request, and clicks that each cost a GitHub call. Everything runs
end to end: the real bot against the fake Discord, GitHub and PyPI."""

from __future__ import annotations

import re

from tests.e2e.test_verification_flow import CLIENT, SECRET
from tests.resilience._support import (
    ADMIN_TOKEN,
    APPROVE,
    card_of,
    settle,
    setup_transfer_world,
    stored,
    submitted_request,
    wait_card,
    wait_for,
    wait_state,
)

CONFIRM = "eco:review:confirm:{}"


def has_confirm(h, card, rid: int) -> bool:
    message = h.discord.get_message(card.id)
    return any(c == CONFIRM.format(rid) for c, _, _ in message.buttons())


async def topic_proof(h, rid: int, repo: str, user: int) -> str:
    """The requester proves control with a repository topic; returns what the bot answered."""
    methods = await (await h.slash(user, "eco verify", request=rid)).wait_message()
    challenge = await (await h.discord.click(user, methods, f"eco:verify:topic:{rid}")).wait_message()
    nonce = re.search(r"pallets-eco-verify-[a-z0-9]{6}", challenge.text()).group(0)
    h.github.set_topics(repo, ["flask", nonce])
    checked = await h.discord.click(user, challenge, f"eco:verify:check:{rid}")
    return (await checked.wait_message()).text()


# ------------------------------------------------------------------ 4. only proven logins are invited


async def test_topic_on_an_org_repository_is_maintain_access_and_the_typed_login_needs_a_confirm(make_harness):
    h = await make_harness(env={"GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    setup_transfer_world(h, admin=True)
    # An organisation's extension where mallory only has the maintain role (enough to add a topic).
    h.github.add_org("acme")
    h.github.add_user("mallory")
    h.github.add_repo("acme/flask-bar", owner_type="Organization", maintainers=["mallory"],
                      files={"pyproject.toml": '[project]\nname = "flask-bar"\ndependencies = ["flask"]\n'})
    rid = await submitted_request(h, h.USER2, verified=False, repository="acme/flask-bar", pypi_project="",
                                  github_username="mallory", pypi_username="")
    told = await topic_proof(h, rid, "acme/flask-bar", h.USER2)
    assert "maintain access" in told and "not the admin rights" in told
    row = await stored(h, rid)
    assert row.verification_method == "repo-topic-maintain" and row.verified_github_login is None

    card = await wait_card(h, rid, "MAINTAIN ACCESS ONLY")
    assert "self-declared, not proven" in card.text() and "also invites **mallory**" in card.text()
    assert "Maintain access only" in card.text() and "Verified" not in card.text().split("Verification", 1)[1][:40]

    # One ✅ no longer approves nor invites: a maintainer must confirm explicitly.
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: has_confirm(h, card, rid), what="the confirm button")
    await settle(h)
    assert (await stored(h, rid)).state == "under_review" and h.github.invitations == []
    confirm = await h.discord.click(h.MAINTAINER2, card, CONFIRM.format(rid))
    assert "Approved" in (await confirm.wait_message()).text()
    await wait_state(h, rid, "approved")
    await wait_for(lambda: h.github.invitations, what="the invitation after the confirm")
    assert h.github.invitations == [("pallets-eco", "mallory", "member", "org-admin")]


async def test_topic_on_a_personal_repository_still_leaves_the_typed_login_unproven(harness):
    h = harness
    setup_transfer_world(h)
    rid = await submitted_request(h, verified=False, github_username="alice")
    assert "Verified" in await topic_proof(h, rid, "alice/flask-foo", h.USER)
    card = await wait_card(h, rid, "self-declared, not proven")
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: has_confirm(h, card, rid), what="the confirm button")
    await settle(h)
    assert (await stored(h, rid)).state == "under_review"


async def test_a_login_proven_by_the_device_flow_is_invited_after_one_approval(make_harness):
    from tests.e2e.test_verification_flow import finish_device, start_device

    h = await make_harness(github=CLIENT, env={**SECRET, "GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN})
    setup_transfer_world(h, admin=True)
    rid = await submitted_request(h, verified=False)
    click, code = await start_device(h, rid)
    h.github.approve_device(code, "alice")
    await finish_device(h, click)
    card = await wait_card(h, rid, "Verified as **alice**")
    assert "GitHub: **alice** (signed in)" in card.text() and "not proven" not in card.text()
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await wait_for(lambda: h.github.invitations, what="the invitation")
    assert h.github.invitations == [("pallets-eco", "alice", "member", "org-admin")]


async def test_manual_verification_is_a_maintainers_vouch_and_says_the_login_is_self_declared(harness):
    h = harness
    setup_transfer_world(h)
    rid = await submitted_request(h)  # /eco verify-manual by a maintainer
    card = await wait_card(h, rid, "self-declared, vouched for by a maintainer")
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await wait_state(h, rid, "approved")
    assert not has_confirm(h, await card_of(h, rid), rid)


# ------------------------------------------------------------------ 5. squatting and flooding


async def test_one_member_can_hold_at_most_three_requests_waiting_for_a_decision(harness):
    from tests.resilience._support import fill, open_form, request_row

    h = harness
    setup_transfer_world(h)
    for name in ("flask-one", "flask-two", "flask-three", "flask-four"):
        h.github.add_repo(f"alice/{name}", files={"pyproject.toml": f'[project]\nname = "{name}"\n'})
    for name in ("flask-one", "flask-two", "flask-three"):
        await submitted_request(h, h.USER2, verified=False, repository=f"alice/{name}", pypi_project="")
    _, answer = await fill(h, h.USER2, await open_form(h, h.USER2), repository="alice/flask-four", pypi_project="")
    assert "at most 3 at a time" in answer.text() and "/eco withdraw" in answer.text()
    assert not [r for r in await request_row(h) if r.repo_name == "flask-four"]
    assert len(h.discord.messages_in(h.REVIEW_CHANNEL)) == 3
    # Someone else is not limited by it, and a decision frees a place.
    await submitted_request(h, h.USER, verified=False, repository="alice/flask-four", pypi_project="")
    confirm = await (await h.slash(h.USER2, "eco withdraw", request=1)).wait_message()
    await (await h.discord.click(h.USER2, confirm, "eco:transfer:withdraw:1")).wait_ack()
    await wait_state(h, 1, "withdrawn")
    _, saved = await fill(h, h.USER2, await open_form(h, h.USER2), repository="alice/flask-foo")
    assert "at most" not in saved.text() and any(c and "continue" in c for c, _, _ in saved.buttons())


async def test_a_repository_that_does_not_exist_gets_an_answer_and_no_card(harness):
    from tests.resilience._support import custom_id, request_row, submit, to_ready

    h = harness
    setup_transfer_world(h)
    h.github.add_repo("alice/secret-ext", private=True)
    for repository in ("alice/does-not-exist", "alice/secret-ext"):
        msg = await to_ready(h, repository=repository, pypi_project="")
        _, answer = await submit(h, msg)
        assert answer.ephemeral and "No such repository on GitHub" in answer.text(), answer.text()
        assert f"{repository}**: it may be misspelled or private" in answer.text()
        [row] = [r for r in await request_row(h) if r.repo_key == repository]
        assert row.state == "withdrawn"
        # "Start again" reopens the form with what was typed.
        again = await h.discord.click(h.USER, answer, custom_id(answer, "restart"))
        await again.wait_ack()
        assert again.modal is not None
    await settle(h)
    assert h.discord.messages_in(h.REVIEW_CHANNEL) == []


# ------------------------------------------------------------------ 7. per-user cooldowns


async def test_submissions_have_a_per_user_cooldown_with_a_friendly_answer(make_harness):
    from tests.resilience._support import custom_id, request_row, submit, to_ready

    h = await make_harness(review={"submit_cooldown_seconds": 120})
    setup_transfer_world(h)
    await submitted_request(h, verified=False)
    msg = await to_ready(h, repository="alice/cronlike", pypi_project="")
    checks_before = h.github.count("GET", r"/repos/alice/cronlike$")
    _, answer = await submit(h, msg)
    assert answer.ephemeral and "Please wait 120 seconds" in answer.text() and "draft is saved" in answer.text()
    [row] = await request_row(h, repo_name="cronlike")
    assert row.state == "draft" and h.github.count("GET", r"/repos/alice/cronlike$") == checks_before
    assert len(h.discord.messages_in(h.REVIEW_CHANNEL)) == 1
    # Another member is not slowed down by it.
    await submitted_request(h, h.USER2, verified=False, repository="alice/click-colors", pypi_project="")
    h.clock.advance(seconds=121)
    _, report = await submit(h, msg)
    assert "submitted" in report.text()
    await card_of(h, row.id)
    assert custom_id(msg, "submit")


async def test_starting_a_github_sign_in_has_a_per_user_cooldown(make_harness):
    from sqlalchemy import func, select

    from bot.db.models.verification import Verification
    from tests.e2e.test_verification_flow import start_device

    h = await make_harness(github={**CLIENT, "sign_in_cooldown_seconds": 30}, env=SECRET)
    setup_transfer_world(h)
    rid = await submitted_request(h, verified=False)
    methods = await (await h.slash(h.USER, "eco verify", request=rid)).wait_message()
    first = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
    assert "Sign in with GitHub" in (await first.wait_message()).text()
    for _ in range(5):  # a member hammering the button
        again = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
        answer = await again.wait_message()
        assert answer.ephemeral and "try again in 30 second(s)" in answer.text(), answer.text()
    assert h.github.count("POST", "/login/device/code") == 1
    async with h.db() as s:
        assert await s.scalar(select(func.count()).select_from(Verification)) == 1
    h.clock.advance(seconds=31)
    await start_device(h, rid)
    assert h.github.count("POST", "/login/device/code") == 2


# ------------------------------------------------------------------ 5. a proven owner takes over


async def claim_offer(h, user: int, repository: str):
    from tests.resilience._support import fill, open_form

    _, answer = await fill(h, user, await open_form(h, user), repository=repository)
    return answer


async def claim(h, answer, rid: int, user: int, login: str):
    from tests.e2e.test_verification_flow import finish_device

    click = await h.discord.click(user, answer, f"eco:verify:claim:{rid}")
    code = re.search(r"\b([0-9A-F]{4}-[0-9A-F]{4})\b", (await click.wait_message()).text()).group(1)
    h.github.approve_device(code, login)
    return await finish_device(h, click)


async def test_a_proven_owner_takes_over_an_unverified_request_and_its_requester_is_told(make_harness):
    from sqlalchemy import select

    from bot.db.models.transfers import TransferEvent
    from tests.resilience._support import request_row

    h = await make_harness(github=CLIENT, env=SECRET)
    setup_transfer_world(h)
    h.github.add_user("mallory")
    # A squatter (DMs closed) asks for alice's repository, typing her login.
    squatted = await submitted_request(h, h.CLOSED_DMS_USER, verified=False)
    answer = await claim_offer(h, h.USER, "alice/flask-foo")
    assert "has not proven they own the repository" in answer.text() and "already exists" in answer.text()
    assert (f"eco:verify:claim:{squatted}", "I own it: sign in with GitHub", False) in answer.buttons()

    # Someone who does not own it signs in: refused, and the squatter's request is untouched.
    failed = await claim(h, answer, squatted, h.USER2, "mallory")
    assert "Not verified" in failed.text()
    row = await stored(h, squatted)
    assert row.state == "under_review" and row.verification_note is None

    told = await claim(h, answer, squatted, h.USER, "alice")
    assert "Verified" in told.text() and "is withdrawn" in told.text() and "/eco transfer" in told.text()
    assert (await stored(h, squatted)).state == "withdrawn"
    [mine] = await request_row(h, requester_id=h.USER)
    assert (mine.state, mine.repo_key, mine.verified_github_login, mine.github_username) == (
        "draft", "alice/flask-foo", "alice", "alice")
    # The squatter is told privately (DMs closed: a private thread) and their card says withdrawn.
    notice = await h.discord.wait_for_message(None, lambda m: "someone proved with GitHub" in m.text())
    assert f"<@{h.CLOSED_DMS_USER}>" in notice.text() and not notice.ephemeral
    await wait_card(h, squatted, "withdrawn")
    async with h.db() as s:
        actions = list(await s.scalars(select(TransferEvent.action).where(TransferEvent.request_id == squatted)))
    assert actions.count("taken_over") == 1 and actions.count("taken_over_told") == 1
    # The new owner finishes the form and submits: a card for their verified request.
    resume = await (await h.slash(h.USER, "eco transfer")).wait_message()
    edit = await h.discord.click(h.USER, resume, f"eco:transfer:edit:{mine.id}")
    await edit.wait_ack()
    from tests.resilience._support import FORM

    saved = await h.discord.submit_modal(h.USER, edit, values={**FORM})
    assert "Continue" in str((await saved.wait_message()).buttons())
    row = (await request_row(h, requester_id=h.USER))[0]
    assert row.verified_github_login == "alice" and row.reason == FORM["reason"]


async def test_a_verified_request_is_not_offered_for_takeover(make_harness):
    h = await make_harness(github=CLIENT, env=SECRET)
    setup_transfer_world(h)
    await submitted_request(h, h.USER2)  # verified by a maintainer
    answer = await claim_offer(h, h.USER, "alice/flask-foo")
    assert "already exists" in answer.text() and answer.buttons() == []


async def test_takeover_survives_a_restart_before_the_squatter_is_told(make_harness):
    """kill -9 consideration: the takeover is one transaction (withdraw + draft + audit); telling the
    squatter is read back from the audit log, so a process that stops in between still tells, once."""
    h = await make_harness(github=CLIENT, env=SECRET)
    setup_transfer_world(h)
    squatted = await submitted_request(h, h.USER2, verified=False)
    answer = await claim_offer(h, h.USER, "alice/flask-foo")
    verification = h.bot.get_cog("Verification")

    async def dead() -> None:  # the process stops right after the takeover's commit
        return None

    verification.tell_takeovers = dead
    await claim(h, answer, squatted, h.USER, "alice")
    assert (await stored(h, squatted)).state == "withdrawn"
    await settle(h)
    assert not [m for m in h.discord.messages_in(h.discord.dm_channel(h.USER2).id) if "withdrawn" in m.text()]
    await h.restart()
    await h.bot.get_cog("Verification").run_pass()
    await h.bot.get_cog("Verification").run_pass()
    told = [m for m in h.discord.messages_in(h.discord.dm_channel(h.USER2).id) if "took it over" in m.text()]
    assert len(told) == 1


async def test_after_a_topic_proof_signing_in_with_github_proves_the_login_and_lifts_the_confirm(make_harness):
    from tests.e2e.test_verification_flow import finish_device, start_device

    h = await make_harness(github=CLIENT, env=SECRET)
    setup_transfer_world(h)
    rid = await submitted_request(h, verified=False)
    await topic_proof(h, rid, "alice/flask-foo", h.USER)
    card = await wait_card(h, rid, "self-declared, not proven")
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: has_confirm(h, card, rid), what="the confirm button")
    methods = await (await h.slash(h.USER, "eco verify", request=rid)).wait_message()
    assert "Sign in with GitHub" in methods.text() and "must confirm" in methods.text()
    click, code = await start_device(h, rid)
    h.github.approve_device(code, "alice")
    await finish_device(h, click)
    # The approval already given now decides: nothing left to confirm.
    await wait_state(h, rid, "approved")
    row = await stored(h, rid)
    assert (row.verification_method, row.verified_github_login, row.decided_by) == ("github-owner", "alice",
                                                                                   h.MAINTAINER)
