"""`python -m bot` as a process against the loopback fakes, where real Discord differs from a lenient fake
(issue 13 items 6 and 12): asking for the Message Content intent without the portal toggle ends with one
clear line and a non-zero exit, and `check` says so beforehand; `check` tells whether nudges' role pings
will notify anyone."""

from __future__ import annotations

import asyncio

from tests.e2e.test_process import H, _spawn, world
from tests.fakes.discord_world import Perm

__all__ = ["world"]  # the process world fixture of tests/e2e/test_process.py


def _with_message_content(config) -> None:
    text = config.read_text().replace("[discord]\n", "[discord]\nmessage_content = true\n", 1)
    config.write_text(text)


async def _check(config) -> tuple[int, str, str]:
    proc = await _spawn(config, "check")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_run_without_the_portal_toggle_exits_with_one_line(world):
    fake, config, *_ = world
    fake.message_content_intent_granted = False
    _with_message_content(config)
    proc = await _spawn(config, "run")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    logs = out.decode() + err.decode()
    assert proc.returncode not in (0, None), logs
    assert fake.disallowed_intent_closes == 1, "the bot must not retry a refused intent"
    assert "Traceback" not in logs
    lines = [line for line in logs.splitlines() if "4014" in line]
    assert len(lines) == 1, logs
    assert "Message Content Intent" in lines[0] and "discord.message_content" in lines[0]
    assert "Privileged Gateway Intents" in lines[0]


async def test_check_reports_the_message_content_toggle(world):
    fake, config, *_ = world
    _with_message_content(config)
    fake.message_content_intent_granted = False
    code, out, err = await _check(config)
    assert code == 1, out + err
    assert ("[ ] discord.message_content = true, but the Message Content Intent is off: turn it on in the "
            "Developer Portal (Bot > Privileged Gateway Intents) or set discord.message_content = false") in out

    fake.message_content_intent_granted = True
    code, out, err = await _check(config)
    assert code == 0, out + err
    assert "[x] Message Content Intent is enabled for the application" in out


async def test_check_reports_whether_role_pings_notify(world):
    fake, config, *_ = world
    code, out, err = await _check(config)
    assert code == 0, out + err  # a warning, not a failure: the nudge is still posted
    assert f"[!] maintainer role @Maintainers ({H.MAINTAINER_ROLE}) is not mentionable and the bot lacks " \
           "Mention Everyone" in out

    fake.set_bot_permissions(H.GUILD, fake.bot_permissions(H.REVIEW_CHANNEL) | Perm.MENTION_EVERYONE)
    code, out, err = await _check(config)
    assert f"[x] maintainer role @Maintainers ({H.MAINTAINER_ROLE}): nudges ping it (the bot has Mention " \
           "Everyone)" in out

    fake.guilds[H.GUILD].roles[H.MAINTAINER_ROLE].mentionable = True
    code, out, err = await _check(config)
    assert f"[x] maintainer role @Maintainers ({H.MAINTAINER_ROLE}) is mentionable: nudges ping it" in out
