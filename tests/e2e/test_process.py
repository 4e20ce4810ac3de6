"""The real process: `python -m bot` against the loopback fakes starts, stops on SIGTERM within 5 s,
restarts without re-syncing commands, and `python -m bot check` reports what is missing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord_world import Perm
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI
from tests.harness import BOT_PERMISSIONS, DISCORD_TOKEN, Harness

ROOT = Path(__file__).resolve().parents[2]
PROCESS_GITHUB_TOKEN = "ghs_processtoken123456"
H = Harness


@pytest.fixture
async def world(tmp_path):
    discord_fake, github, pypi = FakeDiscord(token=DISCORD_TOKEN), FakeGitHub(), FakePyPI()
    for fake in (discord_fake, github, pypi):
        await fake.start()
    discord_fake.add_guild(H.GUILD, "Pallets")
    discord_fake.add_role(H.GUILD, H.MAINTAINER_ROLE, "Maintainers")
    for cid, name in ((H.ECO_CHANNEL, "pallets-eco"), (H.REVIEW_CHANNEL, "eco-review")):
        discord_fake.add_channel(H.GUILD, cid, name)
    discord_fake.set_bot_permissions(H.GUILD, BOT_PERMISSIONS)
    github.add_org("pallets-eco")
    github.bot_token = PROCESS_GITHUB_TOKEN
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[discord]
guild_id = {H.GUILD}
eco_channel_id = {H.ECO_CHANNEL}
review_channel_id = {H.REVIEW_CHANNEL}
maintainer_role_ids = [{H.MAINTAINER_ROLE}]
api_base = "{discord_fake.api_base}"
gateway_url = "{discord_fake.gateway_url}"

[github]
api_url = "{github.api_url}"
web_url = "{github.web_url}"

[pypi]
url = "{pypi.url}"

[database]
url = "sqlite+aiosqlite:///{tmp_path}/data/eco.db"
"""
    )
    yield discord_fake, config, github, pypi
    for fake in (discord_fake, github, pypi):
        await fake.close()


async def _spawn(config: Path, *args: str):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISCORD_TOKEN": DISCORD_TOKEN,
           "GITHUB_TOKEN": PROCESS_GITHUB_TOKEN}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not reached")


async def _run_until_ready_then_sigterm(fake: FakeDiscord, config: Path) -> tuple[int, float, str]:
    before = fake.identify_count
    proc = await _spawn(config)
    try:
        await _wait_until(lambda: fake.identify_count > before and fake.is_connected)
        await asyncio.sleep(0.5)  # let the bot finish GUILD_CREATE handling
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
        return proc.returncode, time.monotonic() - started, stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_process_starts_stops_on_sigterm_and_restarts_without_sync(world):
    fake, config, *_ = world
    code, elapsed, logs = await _run_until_ready_then_sigterm(fake, config)
    assert code == 0, logs
    assert elapsed < 5.0
    assert "received SIGTERM" in logs
    assert fake.sync_calls == 1
    assert (config.parent / "data" / "eco.db").exists()

    code, elapsed, logs = await _run_until_ready_then_sigterm(fake, config)
    assert code == 0, logs
    assert elapsed < 5.0
    assert fake.sync_calls == 1, "an unchanged command tree must not be synced again"
    assert "command tree unchanged" in logs
    assert DISCORD_TOKEN not in logs and "ghs_processtoken123456" not in logs


async def test_sync_command_forces_a_sync(world):
    fake, config, *_ = world
    proc = await _spawn(config, "sync")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "command tree synced" in out.decode()
    assert fake.sync_calls == 1
    proc = await _spawn(config, "sync")
    await asyncio.wait_for(proc.communicate(), 30)
    assert fake.sync_calls == 2


async def test_check_reports_a_checklist_and_fails_on_missing_permissions(world):
    fake, config, *_ = world
    proc = await _spawn(config, "check")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()
    assert "[x] guild Pallets found" in text
    assert "#eco-review (review_channel_id): all permissions present" in text
    assert "all good" in text

    # Take away reactions in the review channel and point the eco channel at a channel that doesn't exist.
    fake.add_channel(
        H.GUILD, H.REVIEW_CHANNEL + 50, "eco-review-2",
        overwrites=[{"id": H.GUILD, "type": 0, "allow": 0,
                     "deny": Perm.ADD_REACTIONS | Perm.MANAGE_MESSAGES | Perm.CREATE_PUBLIC_THREADS}],
    )
    text_cfg = config.read_text().replace(str(H.REVIEW_CHANNEL), str(H.REVIEW_CHANNEL + 50))
    text_cfg = text_cfg.replace(f"eco_channel_id = {H.ECO_CHANNEL}", "eco_channel_id = 123456789")
    text_cfg = text_cfg.replace(f"maintainer_role_ids = [{H.MAINTAINER_ROLE}]", "maintainer_role_ids = [42]")
    config.write_text(text_cfg)
    proc = await _spawn(config, "check")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = out.decode()
    assert proc.returncode == 1, text
    missing = "missing Add Reactions, Manage Messages, Create Public Threads"
    assert f"[ ] #eco-review-2 (review_channel_id): {missing}" in text
    assert "[ ] discord.eco_channel_id 123456789: channel not found" in text
    assert "[ ] maintainer role 42 NOT found" in text
    assert "thing(s) to fix" in text



async def test_eligibility_command_prints_the_report_and_fails_cleanly_on_bad_input(world):
    from tests.services.test_eligibility import build_world

    _, config, github, pypi = world
    build_world(github, pypi)
    proc = await _spawn(config, "eligibility", "https://github.com/alice/flask-foo.git")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert text.startswith("alice/flask-foo: ELIGIBLE")
    assert "[pass]" in text

    proc = await _spawn(config, "eligibility", "file:///etc/passwd")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert err.decode().startswith("error: ") and "Traceback" not in err.decode()
    assert len(err.decode().strip().splitlines()) == 1
