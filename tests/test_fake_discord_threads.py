"""Self-tests of the fake Discord's stricter rules (issue 13), with a real discord.py client.

Each rule is Discord's documented behaviour (sources in the fake's comments, discord/discord-api-docs):
private threads, the `invitable` flag, archived threads, auto-archive durations, 15-minute tokens and the
deprecated "followup answers a deferral".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests import test_fake_discord as base
from tests.fakes.discord import ApiError, FakeDiscord, Perm, raw_request
from tests.test_fake_discord import ALICE, BOB, CHANNEL, GUILD, FakeTestBot, wait_for

fake, bot = base.fake, base.bot  # the fixtures of the fake's main self-test

THREAD_ROUTE = f"/channels/{CHANNEL}/threads"


async def private_thread(fake: FakeDiscord, **body) -> int:
    status, data = await raw_request(fake, "POST", THREAD_ROUTE, json={"name": "t", "type": 12, **body})
    assert status == 201, data
    return int(data["id"])


async def test_private_thread_is_seen_only_by_members_and_moderators(fake: FakeDiscord) -> None:
    thread_id = await private_thread(fake)
    assert fake.can_view(fake.bot_user.id, thread_id)  # its creator is a member
    assert not fake.can_view(ALICE, thread_id) and not fake.can_view(BOB, thread_id)
    with pytest.raises(ApiError) as refused:
        await fake.send_message(BOB, thread_id, "hello?")
    assert refused.value.code == 50001
    fake.guilds[GUILD].roles[GUILD].permissions |= Perm.MANAGE_THREADS  # everyone a moderator now
    assert fake.can_view(BOB, thread_id)


async def test_bot_outside_a_private_thread_cannot_read_or_send(fake: FakeDiscord) -> None:
    # A private thread some user started: the bot is not in it and has no Manage Threads.
    thread = fake.add_channel(GUILD, fake.snowflake(), "someone's", type=12, parent_id=CHANNEL, owner_id=ALICE)
    thread.thread_members.add(ALICE)
    for method, path, body in (("GET", f"/channels/{thread.id}/messages", None),
                               ("POST", f"/channels/{thread.id}/messages", {"content": "hi"})):
        status, data = await raw_request(fake, method, path, json=body)
        assert (status, data["code"]) == (403, 50001), (method, data)


async def test_not_invitable_thread_needs_manage_threads_to_add_anyone(fake: FakeDiscord) -> None:
    closed = await private_thread(fake, invitable=False)
    status, data = await raw_request(fake, "PUT", f"/channels/{closed}/thread-members/{ALICE}")
    assert (status, data["code"]) == (403, 50013)  # even for the thread's creator
    assert ALICE not in fake.channels[closed].thread_members
    open_ = await private_thread(fake)
    status, _ = await raw_request(fake, "PUT", f"/channels/{open_}/thread-members/{ALICE}")
    assert status == 204 and ALICE in fake.channels[open_].thread_members
    fake.set_bot_permissions(GUILD, Perm.MANAGE_THREADS)
    status, _ = await raw_request(fake, "PUT", f"/channels/{closed}/thread-members/{ALICE}")
    assert status == 204


async def test_sending_into_an_archived_thread_unarchives_it_unless_locked(fake: FakeDiscord,
                                                                         bot: FakeTestBot) -> None:
    thread_id = await private_thread(fake)
    fake.channels[thread_id].archived = True
    status, _ = await raw_request(fake, "POST", f"/channels/{thread_id}/messages", json={"content": "back"})
    assert status == 200 and not fake.channels[thread_id].archived
    await wait_for(lambda: (t := bot.get_channel(thread_id)) is not None and not t.archived)
    fake.channels[thread_id].archived = fake.channels[thread_id].locked = True
    status, data = await raw_request(fake, "POST", f"/channels/{thread_id}/messages", json={"content": "no"})
    assert (status, data["code"]) == (400, 50083)


async def test_auto_archive_duration_takes_only_documented_values(fake: FakeDiscord) -> None:
    status, data = await raw_request(fake, "POST", THREAD_ROUTE,
                                     json={"name": "t", "type": 12, "auto_archive_duration": 30})
    assert (status, data["code"]) == (400, 50035)
    thread_id = await private_thread(fake, auto_archive_duration=60)
    status, data = await raw_request(fake, "PATCH", f"/channels/{thread_id}", json={"auto_archive_duration": 2880})
    assert (status, data["code"]) == (400, 50035)
    status, _ = await raw_request(fake, "PATCH", f"/channels/{thread_id}", json={"auto_archive_duration": 10080})
    assert status == 200 and fake.channels[thread_id].auto_archive_duration == 10080


async def test_tokens_expire_fifteen_minutes_on_the_test_clock(fake: FakeDiscord, bot: FakeTestBot) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    fake.clock = lambda: now[0]
    inter = await fake.slash(ALICE, "eco transfer", {"repo": "x"})
    await inter.wait_ack()
    webhook = f"/webhooks/{fake.application_id}/{inter.token}"
    status, _ = await raw_request(fake, "POST", webhook, json={"content": "in time"}, auth=False)
    assert status == 200
    now[0] += timedelta(minutes=15, seconds=1)
    status, data = await raw_request(fake, "POST", webhook, json={"content": "too late"}, auth=False)
    assert (status, data["code"]) == (401, 50027)
    status, data = await raw_request(fake, "PATCH", webhook + "/messages/@original", json={"content": "x"}, auth=False)
    assert (status, data["code"]) == (401, 50027)

    fake.ack_deadline = 3600.0  # only the token's lifetime matters below
    unanswered = await fake.slash(ALICE, "unknown-command")
    now[0] += timedelta(minutes=16)
    status, data = await raw_request(fake, "POST", f"/interactions/{unanswered.id}/{unanswered.token}/callback",
                                     json={"type": 5}, auth=False)
    assert (status, data["code"]) == (404, 10062)


async def test_followup_answering_a_deferral_is_recorded_as_deprecated(fake: FakeDiscord,
                                                                       bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco slow")  # defers, then answers with followup.send
    await inter.wait_message()
    assert inter.deprecated_followup and len(fake.deprecated_uses) == 1

    # Deferring, then editing @original, is the documented way: nothing recorded.
    other = await fake.slash(ALICE, "unknown-command")  # the bot ignores it: answered by hand below
    status, _ = await raw_request(fake, "POST", f"/interactions/{other.id}/{other.token}/callback",
                                  json={"type": 5}, auth=False)
    assert status == 204
    status, _ = await raw_request(fake, "PATCH", f"/webhooks/{fake.application_id}/{other.token}/messages/@original",
                                  json={"content": "done"}, auth=False)
    assert status == 200 and other.response_message is not None and other.response_message.text() == "done"
    assert not other.deprecated_followup and len(fake.deprecated_uses) == 1
