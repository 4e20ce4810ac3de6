"""Several processes migrating one fresh database at once (the bot starting while an operator runs
`python -m bot eligibility`, two CLI runs, two containers on one volume) all succeed and leave one
correct schema: the upgrade takes an exclusive lock beside the database and re-checks the version
under it, instead of failing with `table bot_state already exists`."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from alembic import command

from bot.db import migrate
from bot.db.engine import create_engine

PROCESSES = 6


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}


def versions(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("select version_num from alembic_version")}


async def raw_upgrade(engine) -> None:
    cfg = migrate.alembic_config(str(engine.url))

    def run(connection):
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def cli_upgrade(config: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "GITHUB_TOKEN")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "db", "upgrade", stdout=PIPE, stderr=PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, (out + err).decode(errors="replace")


async def test_many_processes_migrating_a_fresh_database_at_once_all_succeed(tmp_path):
    for attempt in range(2):  # the race needs overlap: two fresh databases make it near-certain
        db = tmp_path / f"race{attempt}" / "eco.db"
        config = tmp_path / f"race{attempt}.toml"
        config.write_text(
            "[discord]\nguild_id = 1\neco_channel_id = 2\nreview_channel_id = 3\nmaintainer_role_ids = [4]\n"
            f'[database]\nurl = "{url(db)}"\n'
        )
        # Half go through the bot's start-up path (a child process each), half through the CLI.
        children = [migrate.upgrade_in_child(url(db)) for _ in range(PROCESSES // 2)]
        clis = [cli_upgrade(config) for _ in range(PROCESSES - PROCESSES // 2)]
        results = await asyncio.gather(*children, *clis, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        failures += [text for r in results if isinstance(r, tuple) and r[0] != 0 for text in [r[1]]]
        assert failures == [], failures
        assert versions(db) == migrate.head_revisions()
        assert {"bot_state", "transfer_requests", "alembic_version"} <= tables(db)
        engine = create_engine(url(db))
        try:
            assert await migrate.is_up_to_date(engine)
        finally:
            await engine.dispose()


async def test_an_upgrade_waits_for_the_lock_and_then_finds_the_work_done(tmp_path):
    db = tmp_path / "held.db"
    engine = create_engine(url(db))
    try:
        async with migrate.migration_lock(engine):
            # Another process starts while this one holds the lock (and is migrating, as it were).
            child = asyncio.create_task(migrate.upgrade_in_child(url(db)))
            await asyncio.sleep(3)  # ample for the child to start and reach the lock
            assert not child.done()  # it waits: it neither fails nor migrates under our feet
            assert "alembic_version" not in tables(db)
            await raw_upgrade(engine)  # our own migration, under the held lock
        await asyncio.wait_for(child, 60)  # released: the child re-reads the version and is done
        assert versions(db) == migrate.head_revisions()
    finally:
        await engine.dispose()


async def test_a_lock_held_too_long_is_reported_in_one_line(tmp_path):
    db = tmp_path / "stuck.db"
    engine = create_engine(url(db))
    try:
        async with migrate.migration_lock(engine):
            with pytest.raises(migrate.MigrationError) as failure:
                async with migrate.migration_lock(create_engine(url(db)), timeout=0.2):
                    pass
        assert "another process held the migration lock" in str(failure.value)
        assert (db.parent / "stuck.db.migrate-lock").stat().st_mode & 0o077 == 0
    finally:
        await engine.dispose()
