"""kill -9 at each step of a join request (issue 16), then restart: nothing lost, nothing done twice, old
buttons still work. The bot is the real `python -m bot` process (background loops on), as in test_kill9.py:
request stored → during device-flow polling → while the card's contributions are being read → with a vote
half-counted (2 approvals required) and the second vote made while the bot is down → right after the decision.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.db.models.join import JoinRequest
from tests.e2e.test_join_flow import APPROVE, join_id_of, setup_join_world
from tests.harness import GITHUB_TOKEN
from tests.resilience._support import ADMIN_TOKEN, dm_texts, wait_for
from tests.resilience.test_kill9 import CLIENT_SECRET, ProcessHarness


class JoinProcessHarness(ProcessHarness):
    async def start(self) -> None:
        await super().start()
        with self.config_path.open("a") as config:
            config.write('[join]\napprovals_required = 2\n\n[join.teams]\n"flask-foo" = "flask-foo-maintainers"\n')


@pytest.fixture
async def ph(tmp_path):
    harness = JoinProcessHarness(tmp_path)
    await harness.start()
    setup_join_world(harness)
    try:
        yield harness
    finally:
        await harness.close()


async def row(h, jid: int) -> JoinRequest:
    async with h.db() as session:
        return await session.get(JoinRequest, jid, populate_existing=True)


def cards(h, jid: int) -> list:
    return [m for m in h.discord.messages_in(h.REVIEW_CHANNEL) if f"Join request #{jid}" in m.text()]


async def test_kill9_at_every_step_of_a_join_request(ph):
    h = ph
    await h.start_bot()
    # The contribute cache (the projects autocomplete offers) is filled by the process itself.
    async def cached() -> bool:
        answer = await h.discord.autocomplete(h.USER, "eco join", focused="project", value="flask-f",
                                              options={"about": "x"})
        await wait_for(lambda: answer.choices is not None, timeout=10, what="choices")
        return bool(answer.choices)
    await wait_for(cached, timeout=20, what="the project list in the cache")

    # --- the request is stored, then the process dies: the old "Sign in" button still works ----------
    asked = await (await h.slash(h.USER, "eco join", project="flask-foo",
                                 about="I fixed the docs build twice.")).wait_message(timeout=10)
    jid = join_id_of(asked)
    await h.crash_and_restart()
    device = await h.discord.click(h.USER, asked, f"eco:join:prove:{jid}")
    code_msg = await device.wait_message(timeout=10)
    code = next(w.strip("`*.") for w in code_msg.text().split() if len(w.strip("`*.")) == 9
                and w.strip("`*.")[4] == "-")

    # --- during device-flow polling ----------------------------------------------------------------
    await wait_for(lambda: h.github.count("POST", "access_token") >= 1, timeout=15, what="a device-flow poll")
    await h.crash_and_restart()

    # --- while the card's contributions are read (search is slow), the process dies ----------------
    h.github.latency = 0.5
    searches = h.github.count("GET", r"/search/issues")
    h.github.approve_device(code, "carol")
    await wait_for(lambda: h.github.count("GET", r"/search/issues") > searches, timeout=20,
                   what="the contribution search")
    await h.crash_and_restart()
    h.github.latency = 0.0
    await wait_for(lambda: [c for c in cards(h, jid) if "Merged pull requests: **1**" in c.text()], timeout=20,
                   what="the join card")
    card = cards(h, jid)[0]
    await wait_for(lambda: h.discord.bot_user.id in h.discord.get_message(card.id).reactions.get(APPROVE, ()),
                   timeout=10, what="the voting reactions")
    assert len(cards(h, jid)) == 1
    assert sum("signed in as" in t for t in dm_texts(h, h.USER)) == 1
    assert h.github.revocations == ["carol"]

    # --- a vote half-counted, then the second vote made while the bot is down -----------------------
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await wait_for(lambda: "1/2" in h.discord.get_message(card.id).text(), timeout=10, what="1/2 on the card")
    await h.kill9()
    await h.discord.react(h.MAINTAINER2, card, APPROVE)
    await h.start_bot()
    await wait_for(lambda: h.github.invitations, timeout=20, what="the org invitation (catch-up)")
    await wait_for(lambda: any("was approved" in t for t in dm_texts(h, h.USER)), timeout=10,
                   what="the person told")
    assert (await row(h, jid)).state == "approved"

    # --- right after the decision: nothing runs twice ---------------------------------------------
    await h.crash_and_restart()
    await asyncio.sleep(1.5)
    assert h.github.invitations == [("pallets-eco", "carol", "member", "org-admin")]
    assert sum("was approved" in t for t in dm_texts(h, h.USER)) == 1
    assert "carol" in h.github.orgs["pallets-eco"]["teams"]["flask-foo-maintainers"]
    thread = [m.text() for m in h.discord.messages_in(card.id)]
    assert sum("Approved by" in t for t in thread) == 1 and sum("Invited **carol**" in t for t in thread) == 1
    async with h.db() as session:
        assert await session.scalar(select(func.count()).select_from(JoinRequest)) == 1
    assert len(cards(h, jid)) == 1
    log = h.log_path.read_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    on_disk = log.encode() + b"".join(p.read_bytes() for p in h.tmp_path.glob("eco.db*"))
    for secret in (h.discord.token, GITHUB_TOKEN, ADMIN_TOKEN, CLIENT_SECRET):
        assert secret.encode() not in on_disk
