"""Ownership verification end to end: the real bot, the fake Discord, the fake GitHub and PyPI."""

from __future__ import annotations

import logging
import re

import discord
import pytest
from sqlalchemy import select

from bot.db.models.transfers import TransferEvent, TransferRequest
from cogs.verification import StartButton, VerificationCog

CLIENT = {"oauth_client_id": "Iv1.fakeclient"}
SECRET = {"GITHUB_OAUTH_CLIENT_SECRET": "fake-client-secret"}


@pytest.fixture
async def h(make_harness):
    """Device flow configured (client id and secret), a repository owned by `alice`, token recording."""
    harness = await make_harness(github=CLIENT, env=SECRET)
    harness.github.add_repo("alice/flask-foo")
    harness.issued = []
    issue = harness.github.issue_token

    def recording_issue(login: str) -> str:
        token = issue(login)
        harness.issued.append(token)
        return token

    harness.github.issue_token = recording_issue
    harness.updated = []

    async def on_transfer_updated(request_id: int) -> None:
        harness.updated.append(request_id)

    harness.bot.add_listener(on_transfer_updated, "on_transfer_updated")
    return harness


async def add_request(h, repo="alice/flask-foo", requester=None, **values) -> int:
    owner, name = repo.split("/")
    async with h.db() as session:
        req = TransferRequest(
            guild_id=h.guild_id, requester_id=requester or h.USER, state=values.pop("state", "under_review"),
            repo_owner=owner, repo_name=name, repo_key=repo.lower(), **values,
        )
        session.add(req)
        await session.commit()
        return req.id


async def stored(h, request_id: int) -> TransferRequest:
    async with h.db() as session:
        return await session.get(TransferRequest, request_id)


def cog(h):
    # load_extension executes the module afresh, so the class differs from the one imported here.
    found = h.bot.get_cog("Verification")
    assert type(found).__name__ == VerificationCog.__name__
    return found


async def open_methods(h, user=None, **options):
    interaction = await h.slash(user or h.USER, "eco verify", **options)
    message = await interaction.wait_message()
    assert message.ephemeral
    return message


async def start_device(h, rid: int, user=None) -> tuple[object, str]:
    methods = await open_methods(h, user, request=rid)
    click = await h.discord.click(user or h.USER, methods, f"eco:verify:device:{rid}")
    message = await click.wait_message()
    code = re.search(r"\b([0-9A-F]{4}-[0-9A-F]{4})\b", message.text())
    assert code, message.text()
    assert f"{h.github.web_url}/login/device" in message.text()
    return click, code.group(1)


async def finish_device(h, click, *, seconds: float = 5):
    """Let time pass, run one pass of the background poller, and wait for what the user is told."""
    before = len(click.messages())
    h.clock.advance(seconds=seconds)
    await cog(h).run_pass()
    return await click.wait_message(predicate=lambda m: len(click.messages()) > before and m is click.messages()[-1])


# ----------------------------------------------------------------------------- device flow


@pytest.mark.parametrize("case", ["owner", "org-admin"])
async def test_device_flow_verifies_owner_and_org_admin(h, case, caplog):
    caplog.set_level(logging.DEBUG, logger="bot")
    if case == "owner":
        rid, login, method = await add_request(h), "alice", "github-owner"
    else:
        h.github.add_org("acme", admins=["bob"])
        h.github.add_repo("acme/flask-bar", owner_type="Organization")
        rid, login, method = await add_request(h, "acme/flask-bar"), "bob", "github-org-admin"
    click, code = await start_device(h, rid)
    h.github.approve_device(code, login)

    told = await finish_device(h, click)

    assert told.ephemeral and "Verified" in told.text() and f"**{login}**" in told.text()
    req = await stored(h, rid)
    assert (req.verification_method, req.verified_github_login) == (method, login)
    assert req.verified_at is not None
    assert h.updated == [rid]
    assert h.github.revocations == [login]
    # The token appears nowhere: not in the database files, not in the bot's log, not in raw records.
    assert h.issued
    db_bytes = b"".join(p.read_bytes() for p in h.tmp_path.glob("eco.db*"))
    for token in h.issued:
        assert token.encode() not in db_bytes
        assert token not in h.logs
        assert token not in caplog.text


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ("expired_token", "expired before it was approved"),
        ("access_denied", "cancelled on GitHub"),
        ("incorrect_device_code", "did not recognise"),
        ("device_flow_disabled", "disabled for this bot's GitHub app"),
    ],
)
async def test_each_device_flow_error_is_told_and_nothing_is_verified(h, answer, phrase):
    rid = await add_request(h)
    h.github.device_flow_script([answer])
    click, _ = await start_device(h, rid)
    told = await finish_device(h, click)
    assert "Not verified" in told.text() and phrase in told.text()
    assert (await stored(h, rid)).verified_at is None
    assert h.updated == []


async def test_slow_down_and_pending_keep_waiting_then_succeed(h):
    rid = await add_request(h)
    h.github.device_flow_script(["authorization_pending", "slow_down", ("token", "alice")])
    click, _ = await start_device(h, rid)
    shown = len(click.messages())
    for seconds in (5, 5):
        h.clock.advance(seconds=seconds)
        assert await cog(h).run_pass() == []
    h.clock.advance(seconds=5)  # slow_down made the interval 10 s: not due yet
    assert await cog(h).run_pass() == [] and h.github.count("POST", "access_token") == 2
    assert len(click.messages()) == shown  # the user was not bothered while waiting
    told = await finish_device(h, click, seconds=5)
    assert "Verified" in told.text()


async def test_not_the_owner_is_told_who_owns_it_and_the_fork_path(h):
    rid = await add_request(h)
    click, code = await start_device(h, rid)
    h.github.approve_device(code, "mallory")
    told = await finish_device(h, click)
    text = told.text()
    assert "**alice**" in text and "mallory" in text and "Only its owner can transfer it" in text
    assert "fork it, work on it, then ask to join" in text and "https://palletsprojects.com/ecosystem" in text
    req = await stored(h, rid)
    assert req.verified_at is None and req.verification_note.startswith("Not verified")
    assert h.updated == [rid]  # the review card shows "not verified" with the note


async def test_restart_during_a_pending_device_flow_resumes_and_tells_by_dm(h):
    rid = await add_request(h)
    _, code = await start_device(h, rid)
    await h.restart()
    h.github.approve_device(code, "alice")
    h.clock.advance(seconds=5)
    await cog(h).run_pass()
    dm = h.discord.dm_channel(h.USER)
    message = await h.discord.wait_for_message(dm.id, lambda m: "Verified" in m.text())
    assert "alice" in message.text()
    assert (await stored(h, rid)).verified_github_login == "alice"
    assert h.discord.unknown_routes == []


async def test_result_after_the_interaction_token_lapsed_goes_by_dm(h):
    rid = await add_request(h)
    click, code = await start_device(h, rid)
    shown = len(click.messages())
    h.clock.advance(minutes=14, seconds=30)  # the code still works, the interaction token no longer does
    h.github.approve_device(code, "alice")
    await cog(h).run_pass()
    dm = h.discord.dm_channel(h.USER)
    await h.discord.wait_for_message(dm.id, lambda m: "Verified" in m.text())
    assert len(click.messages()) == shown


async def test_closed_dms_fall_back_to_a_private_thread(h):
    user = h.CLOSED_DMS_USER
    rid = await add_request(h, requester=user)
    _, code = await start_device(h, rid, user)
    await h.restart()  # the interaction is gone: the bot must reach the user some other way
    h.github.approve_device(code, "alice")
    h.clock.advance(seconds=5)
    await cog(h).run_pass()
    message = await h.discord.wait_for_message(None, lambda m: "Verified" in m.text())
    thread = h.discord.channels[message.channel_id]
    assert thread.is_thread and thread.type == 12 and thread.parent_id == h.eco_channel_id
    assert user in thread.thread_members and user in message.mention_ids


async def test_flow_that_expired_while_the_bot_was_down_is_closed_and_told(h):
    rid = await add_request(h)
    await start_device(h, rid)
    await h.stop_bot()
    h.clock.advance(minutes=20)
    await h.start_bot()
    await cog(h).run_pass()
    dm = h.discord.dm_channel(h.USER)
    message = await h.discord.wait_for_message(dm.id, lambda m: "expired" in m.text())
    assert "/eco verify" in message.text()
    assert h.github.count("POST", "access_token") == 0
    assert (await stored(h, rid)).verified_at is None


# ----------------------------------------------------------------------------- topic proof


async def start_topic(h, rid: int):
    methods = await open_methods(h, request=rid)
    click = await h.discord.click(h.USER, methods, f"eco:verify:topic:{rid}")
    message = await click.wait_message()
    nonce = re.search(r"pallets-eco-verify-[a-z0-9]{6}", message.text())
    assert nonce, message.text()
    return message, nonce.group(0)


async def press_check(h, message, rid: int, user=None) -> str:
    click = await h.discord.click(user or h.USER, message, f"eco:verify:check:{rid}")
    return (await click.wait_message()).text()


async def test_topic_proof_happy_path(h):
    rid = await add_request(h)
    message, nonce = await start_topic(h, rid)
    h.github.set_topics("alice/flask-foo", ["flask", nonce])
    text = await press_check(h, message, rid)
    assert "Verified" in text and "remove the topic" in text
    req = await stored(h, rid)
    assert req.verification_method == "repo-topic" and req.verified_at is not None
    assert h.updated == [rid]


async def test_wrong_topic_is_explained_and_not_verified(h):
    rid = await add_request(h)
    message, nonce = await start_topic(h, rid)
    h.github.set_topics("alice/flask-foo", ["pallets-eco-verify-000000"])
    text = await press_check(h, message, rid)
    assert "Not verified yet" in text and nonce in text and "pallets-eco-verify-000000" in text
    assert (await stored(h, rid)).verified_at is None


async def test_expired_nonce_fails_with_a_clear_message(h):
    rid = await add_request(h)
    message, nonce = await start_topic(h, rid)
    h.github.set_topics("alice/flask-foo", [nonce])
    h.clock.advance(hours=25)
    text = await press_check(h, message, rid)
    assert "expired" in text and "24 hours" in text
    assert (await stored(h, rid)).verified_at is None


async def test_another_users_button_press_is_refused_privately(h):
    rid = await add_request(h)
    message, nonce = await start_topic(h, rid)
    h.github.set_topics("alice/flask-foo", [nonce])
    click = await h.discord.click(h.USER2, message, f"eco:verify:check:{rid}")
    refusal = await click.wait_message()
    assert refusal.ephemeral and "Only the person who opened a request" in refusal.text()
    # The same for the public "Verify ownership" button the transfers cog posts.
    view = discord.ui.View(timeout=None)
    view.add_item(StartButton(rid))
    posted = await h.bot.get_channel(h.eco_channel_id).send("Request submitted", view=view)
    other = await h.discord.click(h.USER2, posted.id, f"eco:verify:start:{rid}")
    assert "Only the person who opened a request" in (await other.wait_message()).text()
    assert (await stored(h, rid)).verified_at is None
    own = await h.discord.click(h.USER, posted.id, f"eco:verify:start:{rid}")
    assert "Repository topic" in (await own.wait_message()).text()


# ----------------------------------------------------------------------------- manual and PyPI


async def test_manual_verification_is_for_maintainers_and_audited(h):
    rid = await add_request(h)
    refused = await h.slash(h.USER, "eco verify-manual", request=rid, reason="trust me")
    assert "Only Pallets maintainers" in (await refused.wait_message()).text()
    done = await h.slash(h.MAINTAINER, "eco verify-manual", request=rid, reason="Confirmed on a call")
    assert "Verified" in (await done.wait_message()).text()
    async with h.db() as session:
        events = list(await session.scalars(select(TransferEvent).where(TransferEvent.request_id == rid)))
    assert [(e.action, e.actor_id, e.reason) for e in events] == [
        ("verified_manually", h.MAINTAINER, "Confirmed on a call")
    ]
    assert (await stored(h, rid)).verification_method == "manual"
    assert h.updated == [rid]


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([("Owner", "alice")], "**alice** is an Owner"),
        ([("Owner", "zed"), ("Maintainer", "alice")], "only a Maintainer. A Maintainer can't add owners"),
        ([("Owner", "zed")], "**alice** has no role on the project"),
    ],
)
async def test_pypi_role_is_reported_with_the_self_declared_caveat(h, roles, expected):
    h.pypi.add_project("Flask-Foo", roles=roles, project_urls={"Source": "https://github.com/alice/flask-foo"})
    rid = await add_request(h, pypi_project="Flask-Foo", pypi_username="alice")
    text = (await open_methods(h)).text()  # the only open request is picked without an option
    assert f"Request #{rid}" in text
    assert expected in text and "self-declared" in text
    assert "The PyPI project links to `alice/flask-foo`" in text


async def test_autocomplete_lists_only_the_callers_open_requests(h):
    h.github.add_repo("bob/flask-bob")
    mine = await add_request(h)
    await add_request(h, "bob/flask-bob", requester=h.USER2)
    await add_request(h, "alice/flask-old", state="withdrawn")
    interaction = await h.discord.autocomplete(
        h.USER, "eco verify", focused="request", value="", guild_id=h.guild_id, channel_id=h.eco_channel_id
    )
    await interaction.wait_ack()
    assert [c["value"] for c in interaction.choices] == [mine]
