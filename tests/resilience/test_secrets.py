"""Logs and database never contain the Discord token, the GitHub tokens (bot, org admin, OAuth client
secret) or the device-flow secrets (access tokens; device codes once the flow is over).

A realistic session runs through every feature with logging at DEBUG, including failures that log
(GitHub errors, refused Discord calls, a restart); then the captured log and every file the bot wrote
(the database with its -wal and -shm files) are scanned byte for byte."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from bot.db.models.verification import Verification
from tests.e2e.test_verification_flow import CLIENT, SECRET, finish_device, start_device
from tests.harness import DISCORD_TOKEN, GITHUB_TOKEN
from tests.resilience._support import (
    ADMIN_TOKEN,
    APPROVE,
    card_of,
    settle,
    setup_transfer_world,
    submitted_request,
    wait_for,
    wait_state,
)

TRANSFER_Q = "How do I transfer my extension to pallets-eco?"


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_no_secret_in_logs_or_database_files(make_harness):
    h = await make_harness(github=CLIENT, env={**SECRET, "GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN},
                           discord={"message_content": True})
    logging.getLogger().setLevel(logging.DEBUG)
    setup_transfer_world(h, admin=True)
    issued: list[str] = []
    issue = h.github.issue_token

    def recording_issue(login: str) -> str:
        issued.append(issue(login))
        return issued[-1]

    h.github.issue_token = recording_issue
    secrets = {"DISCORD_TOKEN": DISCORD_TOKEN, "GITHUB_TOKEN": GITHUB_TOKEN, "GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN,
               "GITHUB_OAUTH_CLIENT_SECRET": SECRET["GITHUB_OAUTH_CLIENT_SECRET"]}

    # Transfer intake, with a GitHub hiccup on the way (retried) and a refused Discord call (logged).
    h.github.fail(None, r"/repos/alice/flask-foo$", 500, times=1)
    h.discord.fail("POST", rf"^/channels/{h.ECO_CHANNEL}/messages$", 403, code=50013)
    await h.discord.send_message(h.USER2, h.ECO_CHANNEL, "hello there, first time here")
    rid = await submitted_request(h, verified=False)

    # Ownership by device flow: a failed sign-in first, then a successful one.
    h.github.device_flow_script(["access_denied"])
    click, _ = await start_device(h, rid)
    await finish_device(h, click)
    click, code = await start_device(h, rid)
    async with h.db() as s:
        device_codes = [v for v in await s.scalars(select(Verification.device_code)) if v]
    assert device_codes, "a pending device flow keeps its device code to resume after a restart"
    h.github.approve_device(code, "alice")
    told = await finish_device(h, click)
    assert "Verified" in told.text() and issued
    live = {p.name: p.read_bytes() for p in files_under(h.tmp_path)}  # the running bot's files, WAL included
    assert "eco.db-wal" in live

    # Review, the org invitation with the admin token, tracking, a restart in the middle.
    card = await card_of(h, rid)
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_state(h, rid, "approved")
    await wait_for(lambda: h.github.invitations, what="the invitation")
    await h.restart()
    h.github.add_member("pallets-eco", "alice")
    h.github.fail(None, r"/orgs/", 401, times=1)  # a credentials error is logged
    review = h.bot.get_cog("Review")
    await review.run_tracking_pass()
    await review.run_tracking_pass()

    # Suggestions and FAQ answers.
    h.github.add_repo("pallets-eco/flask-mail", owner_type="Organization")
    h.github.add_issue("pallets-eco/flask-mail", "Docs typo", labels=["good first issue"])
    await (await h.slash(h.USER2, "eco contribute")).wait_message(timeout=15)
    question = await h.discord.send_message(h.USER2, h.ECO_CHANNEL, TRANSFER_Q)
    await h.discord.wait_for_message(
        h.ECO_CHANNEL, lambda m: (m.get("message_reference") or {}).get("message_id") == str(question.id))
    await settle(h)
    await h.stop_bot()  # closes the database: whatever it leaves on disk is scanned

    assert "50013" in h.logs and "Injected 500" not in h.logs  # the session did log its failures
    blobs = {"log": h.logs.encode()} | {p.name: p.read_bytes() for p in files_under(h.tmp_path)}
    blobs |= {f"{name} (while running)": data for name, data in live.items()}
    assert b"alice/flask-foo" in blobs["eco.db"] and "device flow" in h.logs  # the scan reads real data
    wanted = {**secrets, **{f"access token {n}": t for n, t in enumerate(issued)}}
    leaks = [f"{what} in {where}" for what, secret in wanted.items() for where, data in blobs.items()
             if secret.encode() in data]
    # A device code is stored on purpose while its flow is pending (polling resumes after a restart) and
    # is useless once spent; old WAL frames of the running bot may still hold it. Once the flow is over
    # it must be gone from the log and from the database the bot leaves behind.
    final = {name: data for name, data in blobs.items() if "while running" not in name}
    leaks += [f"device code {n} in {where}" for n, code in enumerate(device_codes) for where, data in final.items()
              if code.encode() in data]
    assert not leaks, leaks
