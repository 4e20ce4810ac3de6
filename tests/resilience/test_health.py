"""`python -m bot health` (the Docker HEALTHCHECK) against the real bot process: fresh while it runs,
non-zero with one line when its heartbeat is missing, stale, the bot was killed -9, or it stopped."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import timedelta
from pathlib import Path

from bot.db import migrate
from bot.db.engine import create_engine, create_session_factory
from bot.services import heartbeat
from tests.dburl import database_url
from tests.resilience._support import setup_transfer_world
from tests.resilience.test_kill9 import ROOT, ProcessHarness

BEAT, MAX_AGE = 0.5, 3.0


async def health(config: Path, *extra: str) -> tuple[int, list[str]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no token: a health check needs none
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "health", *extra,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode().splitlines()


async def test_health_follows_the_real_bot_process_missing_fresh_killed_restarted_stopped(tmp_path):
    h = ProcessHarness(tmp_path)
    await h.start()
    setup_transfer_world(h, admin=True)
    try:
        text = h.config_path.read_text()
        assert "[database]\n" in text
        h.config_path.write_text(text.replace(
            "[database]\n", f"[database]\nheartbeat_seconds = {BEAT}\nheartbeat_max_age_seconds = {MAX_AGE}\n"
        ))
        code, lines = await health(h.config_path)  # the bot never ran: nothing to vouch for it
        assert code == 1 and len(lines) == 1 and lines[0].startswith("unhealthy:"), lines

        await h.start_bot()
        code, lines = await health(h.config_path)
        assert (code, len(lines)) == (0, 1) and lines[0].startswith("ok: heartbeat"), lines
        assert f"pid {h.proc.pid}" in lines[0]

        await h.kill9()  # no clean-up: only the heartbeat's age can tell
        await asyncio.sleep(MAX_AGE + 3 * BEAT)
        code, lines = await health(h.config_path)
        assert code == 1 and len(lines) == 1, lines
        assert lines[0].startswith("unhealthy: last heartbeat") and f"more than {MAX_AGE:.0f} s" in lines[0]

        await h.start_bot()  # the restarted bot is healthy again at once
        code, lines = await health(h.config_path)
        assert code == 0 and lines[0].startswith("ok: heartbeat"), lines

        h.proc.send_signal(signal.SIGTERM)  # `docker stop`: a clean stop says so right away
        assert await asyncio.wait_for(h.proc.wait(), 30) == 0
        code, lines = await health(h.config_path)
        assert code == 1 and len(lines) == 1 and lines[0].startswith("unhealthy: the bot stopped"), lines
    finally:
        await h.close()


async def test_health_stale_and_missing_heartbeats_and_no_database(tmp_path):
    url = database_url(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        "[discord]\nguild_id = 1\neco_channel_id = 2\nreview_channel_id = 3\nmaintainer_role_ids = [4]\n"
        f'[database]\nurl = "{url}"\n'
    )
    if url.startswith("sqlite"):
        code, lines = await health(config)
        assert code == 1 and lines == [f"unhealthy: no database at {tmp_path / 'eco.db'}"]
        assert not (tmp_path / "eco.db").exists()  # the check never creates the database
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        db = create_session_factory(engine)
        code, lines = await health(config)
        assert code == 1 and lines == [
            "unhealthy: no heartbeat in the database (the bot has not run, or not since the upgrade)"
        ]
        await heartbeat.beat(db, now=heartbeat.wall_now() - timedelta(minutes=10))
        code, lines = await health(config)
        assert code == 1 and len(lines) == 1, lines
        assert re.match(r"unhealthy: last heartbeat 6\d\d s ago \(pid", lines[0]), lines
        assert "more than 180 s" in lines[0]  # database.heartbeat_max_age_seconds' default
        code, lines = await health(config, "--max-age", "900")
        assert code == 0 and re.fullmatch(r"ok: heartbeat 6\d\d s ago \(pid \d+\)", lines[0]), lines
        await heartbeat.beat(db)
        code, lines = await health(config)
        assert code == 0 and re.fullmatch(r"ok: heartbeat \d s ago \(pid \d+\)", lines[0]), lines
    finally:
        await engine.dispose()


async def test_the_docker_image_checks_health_with_it():
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = [line for line in dockerfile.splitlines() if line.startswith("HEALTHCHECK")]
    assert len(healthcheck) == 1 and '"python", "-m", "bot", "health"' in healthcheck[0], healthcheck
