"""kill -9 at every step of a transfer request, then restart: nothing lost, nothing done twice, old
buttons and old cards still work.

The bot runs as the real process (`python -m bot`, background loops on) against the loopback fakes
that live in this test process; SIGKILL gives it no chance to clean up (no close(), no dispose(), no
WAL checkpoint). One request walks the whole way, killed at each step:
mid-form → after submit (eligibility checks in flight) → during device-flow polling → with a vote
half-counted (2 approvals required, one in) → right after the decision → during tracking → when done.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.engine import create_engine, create_session_factory
from bot.db.models.review import ChecklistItem
from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.db.models.verification import Verification
from tests.harness import GITHUB_TOKEN, Harness
from tests.resilience._support import (
    ADMIN_TOKEN,
    APPROVE,
    click,
    custom_id,
    dm_texts,
    fill,
    open_form,
    request_row,
    setup_transfer_world,
    thread_texts,
    wait_card,
    wait_for,
    wait_state,
)

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "Iv1.fakeclient", "fake-client-secret"


def _toml(raw: dict[str, dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    return "\n".join(
        f"[{section}]\n" + "\n".join(f"{k} = {value(v)}" for k, v in table.items()) + "\n"
        for section, table in raw.items()
    )


class ProcessHarness(Harness):
    """The harness world (same fakes, ids and helpers), but the bot is a `python -m bot` process."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = tmp_path / "bot.log"
        self.config_path = tmp_path / "config.toml"
        self._engine = None
        self._sessions = None

    async def start(self) -> None:  # fakes and world only; start_bot() spawns the process
        await self.discord.start()
        await self.github.start()
        await self.pypi.start()
        self.github.bot_token = GITHUB_TOKEN
        self.github.device_interval = 1
        self._build_world()
        self.config_path.write_text(_toml({
            "discord": {
                "guild_id": self.GUILD, "eco_channel_id": self.ECO_CHANNEL,
                "review_channel_id": self.REVIEW_CHANNEL, "maintainer_role_ids": [self.MAINTAINER_ROLE],
                "api_base": self.discord.api_base, "gateway_url": self.discord.gateway_url,
            },
            "github": {"api_url": self.github.api_url, "web_url": self.github.web_url,
                       "oauth_client_id": CLIENT_ID, "timeout_seconds": 3.0},
            "pypi": {"url": self.pypi.url, "timeout_seconds": 3.0},
            "database": {"url": self.database_url},
            "review": {"approvals_required": 2},
            "tracking": {"interval_minutes": 0.01},
            "faq": {"reply_delay_seconds": 0.0},
        }))
        self._engine = create_engine(self.database_url)
        self._sessions = create_session_factory(self._engine)

    def db(self):
        return self._sessions()

    async def start_bot(self) -> None:  # type: ignore[override]
        before = self.discord.identify_count
        ready_signal = self.github.count("GET", r"/orgs/pallets-eco/repos$")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISCORD_TOKEN": self.discord.token,
            "GITHUB_TOKEN": GITHUB_TOKEN, "GITHUB_ORG_ADMIN_TOKEN": ADMIN_TOKEN,
            "GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        }
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--config", str(self.config_path),
                cwd=ROOT, env=env, stdout=log, stderr=log,
            )
        await wait_for(lambda: (self.proc.returncode is not None and self._died())
                       or (self.discord.identify_count > before and self.discord.is_connected),
                       timeout=30, what="the bot process connecting")
        # on_ready (review catch-up, background loops) comes ~2 s after GUILD_CREATE; the contribute
        # refresh loop's first request to GitHub tells that it happened.
        await wait_for(lambda: self.github.count("GET", r"/orgs/pallets-eco/repos$") > ready_signal,
                       timeout=15, what="the bot process becoming ready")

    def _died(self) -> bool:
        raise AssertionError(f"the bot process exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")

    async def kill9(self) -> None:
        """SIGKILL: no signal handler, no close(), no engine dispose, no flush."""
        assert self.proc is not None and self.proc.returncode is None, "the bot died on its own"
        self.proc.send_signal(signal.SIGKILL)
        assert await self.proc.wait() == -signal.SIGKILL
        await wait_for(lambda: not self.discord.is_connected, what="the gateway noticing the death")

    async def stop_bot(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def crash_and_restart(self) -> None:
        await self.kill9()
        await self.start_bot()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._engine is not None:
                await self._engine.dispose()


@pytest.fixture
async def ph(tmp_path):
    harness = ProcessHarness(tmp_path)
    await harness.start()
    setup_transfer_world(harness, admin=True)
    try:
        yield harness
    finally:
        await harness.close()


async def count(h: ProcessHarness, stmt) -> int:
    async with h.db() as session:
        return int(await session.scalar(stmt))


async def events(h: ProcessHarness, rid: int) -> list[str]:
    async with h.db() as session:
        rows = await session.scalars(select(TransferEvent.action).where(TransferEvent.request_id == rid)
                                     .order_by(TransferEvent.id))
        return list(rows)


def cards(h: ProcessHarness, rid: int) -> list[Any]:
    return [m for m in h.discord.messages_in(h.REVIEW_CHANNEL) if f"Transfer request #{rid}" in m.text()]


async def test_kill9_at_every_step_of_a_transfer_request(ph):
    h = ph
    await h.start_bot()

    # --- mid-form: the first modal is saved, then the process dies -----------------------------
    _, saved = await fill(h, h.USER, await open_form(h, h.USER))
    old_continue = custom_id(saved, "continue")
    [row] = await request_row(h)
    rid = row.id
    await h.crash_and_restart()
    await click(h, h.USER, saved, old_continue)  # a button from the dead process's message
    assert "final say" in h.discord.get_message(saved.id).text()
    await click(h, h.USER, saved, custom_id(saved, "accept"))
    assert "ready to submit" in h.discord.get_message(saved.id).text()

    # --- after submit, with the eligibility checks still waiting for a slow GitHub ---------------
    h.github.latency = 0.4
    await h.discord.click(h.USER, saved, custom_id(saved, "submit"))
    await wait_for(lambda: stored_state(h, rid, "submitted"), what="the request being submitted")
    await h.crash_and_restart()
    h.github.latency = 0.0
    # Restart catch-up: the checks are retried and the card posted exactly once.
    await wait_for(lambda: card_with_reactions(h, rid), timeout=20, what="the review card")
    await wait_state(h, rid, "under_review", timeout=10)
    await wait_for(lambda: report_stored(h, rid), timeout=15, what="the eligibility report")
    assert len(cards(h, rid)) == 1
    assert len(await request_row(h)) == 1

    # --- during device-flow polling ---------------------------------------------------------------
    verify = await h.slash(h.USER, "eco verify", request=rid)
    methods = await verify.wait_message(timeout=10)
    device = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
    code_msg = await device.wait_message(timeout=10)
    code = next(w.strip("`*.") for w in code_msg.text().split() if len(w.strip("`*.")) == 9
                and w.strip("`*.")[4] == "-")
    await wait_for(lambda: h.github.count("POST", "access_token") >= 1, timeout=15, what="a device-flow poll")
    await h.crash_and_restart()
    h.github.approve_device(code, "alice")
    dm = await h.discord.wait_for_message(h.discord.dm_channel(h.USER).id, lambda m: "Verified" in m.text(),
                                          timeout=20)
    assert "alice" in dm.text()
    await wait_card(h, rid, "Verified as **alice**", timeout=10)
    async with h.db() as session:
        flows = list(await session.scalars(select(Verification).where(Verification.request_id == rid)))
    assert [(v.method, v.state) for v in flows] == [("device", "verified")]
    assert h.github.revocations == ["alice"]  # the token was revoked, by the restarted process

    # --- a vote half-counted: 1 of the 2 approvals, then the process dies -------------------------
    card = cards(h, rid)[0]
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_card(h, rid, f"1/2: <@{h.MAINTAINER}>", timeout=10)
    await h.crash_and_restart()
    await h.discord.react(h.MAINTAINER2, card, APPROVE)  # on the card the dead process posted
    await wait_state(h, rid, "approved", timeout=10)
    await wait_for(lambda: h.github.invitations, timeout=10, what="the org invitation")
    await wait_for(lambda: any("Approved by" in t for t in thread_texts(h, card.id)), timeout=10,
                   what="the approval note in the thread")

    # --- right after the decision: the follow-ups must not run again -------------------------------
    await h.kill9()
    # The one window no claim covers: Discord created the checklist DM, the process died before recording
    # it. The restart then sends again, and only the nonce (enforce_nonce) keeps it from arriving twice.
    in_window = (sum("Join the org first" in t for t in dm_texts(h, h.USER)) == 1
                 and not await requester_told(h, rid))
    await h.start_bot()
    await wait_for(lambda: requester_told(h, rid), timeout=15, what="the checklist recorded as delivered")
    await asyncio.sleep(1.0)  # catch-up and a few tracking passes (every 0.6 s)
    assert h.github.invitations == [("pallets-eco", "alice", "member", "org-admin")]
    assert sum("Approved by" in t for t in thread_texts(h, card.id)) == 1
    assert sum("Join the org first" in t for t in dm_texts(h, h.USER)) == 1
    # A resend answered with the first message happens in that window, and only there.
    assert bool(h.discord.nonce_replays) == in_window, (in_window, h.discord.nonce_replays)

    # --- during tracking: GitHub is slow, the pass is in flight when the process dies -------------
    h.github.add_member("pallets-eco", "alice")
    h.github.transfer_repo("alice/flask-foo", "pallets-eco")
    h.pypi.set_roles("Flask-Foo", [("Owner", "alice"), ("Owner", "davidism")])
    repo = h.github.repo("pallets-eco/flask-foo")
    repo["files"][".github/workflows/publish.yaml"] = "name: Publish\n"
    repo["files"]["README.md"] = "# Flask-Foo\n\nPart of the Pallets Community Ecosystem.\n"
    h.pypi.add_release("Flask-Foo", "2.0.0", datetime.now(UTC) + timedelta(seconds=1))
    h.github.latency = 0.3
    seen = len(h.github.requests)
    await wait_for(lambda: len(h.github.requests) > seen + 1, timeout=10, what="a tracking pass in flight")
    await h.crash_and_restart()
    h.github.latency = 0.0
    await wait_for(lambda: automatic_items_done(h, rid), timeout=20, what="the automatic checklist")
    await wait_state(h, rid, "transferring", timeout=10)
    for item in ("readthedocs", "test_pypi"):
        tick = await h.slash(h.MAINTAINER, "eco tick", request=rid, item=item)
        assert "Ticked" in (await tick.wait_message(timeout=10)).text()
    await wait_state(h, rid, "done", timeout=10)
    await h.discord.wait_for_message(h.ECO_CHANNEL, lambda m: "is now part of the Pallets" in m.text(), timeout=10)

    # --- when done: a last crash changes nothing ---------------------------------------------------
    await h.crash_and_restart()
    await asyncio.sleep(1.5)
    assert len(await request_row(h)) == 1 and (await request_row(h))[0].state == "done"
    assert len(cards(h, rid)) == 1
    assert len([m for m in h.discord.messages_in(h.ECO_CHANNEL) if "is now part of the Pallets" in m.text()]) == 1
    assert sum("Every checklist step is done" in t for t in thread_texts(h, card.id)) == 1
    assert sum("Verified" in t for t in dm_texts(h, h.USER)) == 1
    assert len(h.github.invitations) == 1
    actions = await events(h, rid)
    for once in ("draft_created", "terms_accepted", "submit", "verified", "review.approved"):
        assert actions.count(once) == 1, (once, actions)
    assert await count(h, select(func.count()).select_from(ChecklistItem)
                       .where(ChecklistItem.request_id == rid, ChecklistItem.done_at.is_(None))) == 0
    assert h.discord.unknown_routes == []
    log = h.log_path.read_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    on_disk = log.encode() + b"".join(p.read_bytes() for p in h.tmp_path.glob("eco.db*"))
    for secret in (h.discord.token, GITHUB_TOKEN, ADMIN_TOKEN, CLIENT_SECRET):
        assert secret.encode() not in on_disk


async def stored_state(h: ProcessHarness, rid: int, state: str) -> bool:
    async with h.db() as session:
        row = await session.get(TransferRequest, rid, populate_existing=True)
        return row is not None and row.state == state


async def requester_told(h: ProcessHarness, rid: int) -> bool:
    async with h.db() as session:
        return bool(await session.scalar(select(func.count()).select_from(TransferEvent).where(
            TransferEvent.request_id == rid, TransferEvent.action == "review.requester_told")))


async def report_stored(h: ProcessHarness, rid: int) -> bool:
    async with h.db() as session:
        row = await session.get(TransferRequest, rid, populate_existing=True)
        return bool(row and row.report_json and row.verdict == "eligible" and row.report_error is None)


def card_with_reactions(h: ProcessHarness, rid: int) -> bool:
    found = cards(h, rid)
    return bool(found) and all(h.discord.bot_user.id in found[0].reactions.get(e, ()) for e in (APPROVE,))


async def automatic_items_done(h: ProcessHarness, rid: int) -> bool:
    async with h.db() as session:
        done = await session.scalar(select(func.count()).select_from(ChecklistItem)
                                    .where(ChecklistItem.request_id == rid, ChecklistItem.done_at.is_not(None)))
    return done == 6
