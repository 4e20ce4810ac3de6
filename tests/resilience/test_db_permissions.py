"""The database holds pending device codes: the bot creates its file 0600 (the -wal/-shm side files
follow it) in a folder it creates 0700, whatever the umask; an existing file that others can read is
left as it is, with a warning in the log."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from bot.db.engine import DB_DIR_MODE, DB_FILE_MODE


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual default, which gives SQLite's own files 0644
    yield
    os.umask(old)


async def test_first_start_creates_a_private_folder_and_database(make_harness, tmp_path, loose_umask):
    folder = tmp_path / "state" / "bot"
    db = folder / "eco.db"
    h = await make_harness(database={"url": f"sqlite+aiosqlite:///{db}"})
    reply = await (await h.slash(h.USER, "eco about")).wait_message()
    assert reply.text()  # the bot works on its private database
    assert mode(tmp_path / "state") == DB_DIR_MODE == 0o700
    assert mode(folder) == 0o700
    assert mode(db) == DB_FILE_MODE == 0o600
    side = [folder / "eco.db-wal", folder / "eco.db-shm"]
    assert all(p.exists() for p in side), sorted(p.name for p in folder.iterdir())
    assert {p.name: mode(p) for p in side} == {p.name: 0o600 for p in side}
    assert "readable by other users" not in h.logs


async def test_the_dockerfiles_first_command_creates_the_database_private(tmp_path, loose_umask):
    # `python -m bot db upgrade` is what the image runs before the bot, on an empty volume.
    db = tmp_path / "volume" / "eco-bot.db"
    config = tmp_path / "config.toml"
    config.write_text(
        "[discord]\nguild_id = 1\neco_channel_id = 2\nreview_channel_id = 3\nmaintainer_role_ids = [4]\n"
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "GITHUB_TOKEN")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "db", "upgrade", stdout=PIPE, stderr=PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert mode(db.parent) == 0o700
    assert {p.name: mode(p) for p in db.parent.iterdir()} == {p.name: 0o600 for p in db.parent.iterdir()}
    assert "eco-bot.db" in {p.name for p in db.parent.iterdir()}


async def test_an_existing_readable_database_is_left_alone_with_a_warning(make_harness, tmp_path, loose_umask):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    db = folder / "eco.db"
    db.touch()
    os.chmod(db, 0o644)
    h = await make_harness(database={"url": f"sqlite+aiosqlite:///{db}"})
    reply = await (await h.slash(h.USER, "eco about")).wait_message()
    assert reply.text()
    assert mode(db) == 0o644  # the operator's choice is not changed
    assert mode(folder) == 0o755
    warnings = [line for line in h.logs.splitlines() if "readable by other users" in line]
    assert warnings and str(db) in warnings[0] and "0644" in warnings[0] and "WARNING" in warnings[0]


async def test_an_existing_private_database_starts_without_a_warning(make_harness, tmp_path, loose_umask):
    db = tmp_path / "eco.db"
    db.touch()
    os.chmod(db, 0o600)
    h = await make_harness(database={"url": f"sqlite+aiosqlite:///{db}"})
    await (await h.slash(h.USER, "eco about")).wait_message()
    assert "readable by other users" not in h.logs
    assert mode(db) == 0o600
