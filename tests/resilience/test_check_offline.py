"""`python -m bot check` without a network (issue 13 item 14): one line saying Discord can't be reached,
a failing exit code, no traceback."""

from __future__ import annotations

import asyncio
import socket

from tests.e2e.test_process import H, _spawn, world

__all__ = ["world"]  # the process world fixture of tests/e2e/test_process.py


def _closed_port() -> int:
    # Bind and release a loopback port: nothing listens there, so connecting is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_check_offline_prints_one_line(tmp_path):
    port = _closed_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[discord]
guild_id = {H.GUILD}
eco_channel_id = {H.ECO_CHANNEL}
review_channel_id = {H.REVIEW_CHANNEL}
maintainer_role_ids = [{H.MAINTAINER_ROLE}]
api_base = "http://127.0.0.1:{port}/api/v10"
gateway_url = "ws://127.0.0.1:{port}/gateway"

[database]
url = "sqlite+aiosqlite:///{tmp_path}/eco.db"
"""
    )
    proc = await _spawn(config, "check")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text, errors = out.decode(), err.decode()
    assert proc.returncode == 1, text + errors
    assert "Traceback" not in text + errors
    unreachable = [line for line in text.splitlines() if "cannot reach Discord" in line]
    assert len(unreachable) == 1, text
    assert unreachable[0].startswith("[ ] cannot reach Discord (") and "check the network" in unreachable[0]
    assert " ERROR " not in errors, errors  # discord.py's own start-up notes may remain, no error report


async def test_check_when_discord_is_down_prints_one_line(world):
    fake, config, *_ = world
    fake.fail("GET", r"^/users/@me$", 503, times=10)
    proc = await _spawn(config, "check")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text, errors = out.decode(), err.decode()
    assert proc.returncode == 1, text + errors
    assert "Traceback" not in text + errors
    assert "[ ] Discord answered 503 (code 0): try again later" in text.splitlines()
