"""Start-up migrations run in a child process (the bot never imports Alembic), skip the child when
the database is already current, and a failure stops start-up with one clear log line."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from asyncio.subprocess import PIPE

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.config import parse_settings
from bot.db import migrate
from bot.db.engine import create_engine
from bot.runner import build_deps, run_bot


def url(path) -> str:
    return f"sqlite+aiosqlite:///{path}"


RAW = {
    "discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]},
    # Nothing listens here: start-up must stop before any network call.
    "github": {"api_url": "http://127.0.0.1:9/api", "web_url": "http://127.0.0.1:9/web"},
    "pypi": {"url": "http://127.0.0.1:9"},
}


def settings_for(db_url: str):
    return parse_settings(RAW | {"database": {"url": db_url}}, {"DISCORD_TOKEN": "x"})


def test_head_revisions_agree_with_alembic():
    heads = set(ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_heads())
    assert migrate.head_revisions() == heads and len(heads) >= 1


def test_head_revisions_give_up_on_non_literal_revisions(tmp_path):
    (tmp_path / "0001_a.py").write_text('revision = "0001_a"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text('revision: str = "0002_b"\ndown_revision = ("0001_a",)\n')
    assert migrate.head_revisions(tmp_path) == {"0002_b"}
    (tmp_path / "0003_c.py").write_text('revision = make_id()\ndown_revision = "0002_b"\n')
    assert migrate.head_revisions(tmp_path) is None


async def test_child_upgrade_builds_the_schema_and_restarts_skip_it(tmp_path):
    engine = create_engine(url(tmp_path / "c.db"))
    try:
        assert not await migrate.is_up_to_date(engine)  # no version table yet
        await migrate.upgrade_in_child(url(tmp_path / "c.db"))
        assert await migrate.is_up_to_date(engine)
    finally:
        await engine.dispose()
    tables = {r[0] for r in sqlite3.connect(tmp_path / "c.db").execute("select name from sqlite_master")}
    assert {"alembic_version", "bot_state", "transfer_requests", "transfer_events"} <= tables


async def test_a_database_behind_the_newest_revisions_is_upgraded(tmp_path):
    engine = create_engine(url(tmp_path / "b.db"))
    cfg = migrate.alembic_config(url(tmp_path / "b.db"))

    def to_core_only(connection):
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001_core")  # as if the bot was last run before the features existed

    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_core_only)
        assert not await migrate.is_up_to_date(engine)
        await engine.dispose()
        await migrate.upgrade_in_child(url(tmp_path / "b.db"))
        assert await migrate.is_up_to_date(engine)
    finally:
        await engine.dispose()


async def test_build_deps_migrates_without_importing_alembic_in_the_bot(tmp_path):
    # A fresh interpreter, as in production: this test process has imported Alembic already.
    code = (
        "import asyncio, json, sys\n"
        "from bot.config import parse_settings\n"
        "from bot.runner import build_deps\n"
        "settings = parse_settings(json.loads(sys.argv[1]), {'DISCORD_TOKEN': 'x'})\n"
        "async def main():\n"
        "    async with build_deps(settings, start_background_tasks=False, migrate_in_child=True):\n"
        "        pass\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    raw = json.dumps(RAW | {"database": {"url": url(tmp_path / "p.db")}})
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, raw, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "[]"
    assert "bot_state" in {r[0] for r in sqlite3.connect(tmp_path / "p.db").execute("select name from sqlite_master")}


async def test_build_deps_can_still_migrate_in_process(tmp_path):
    async with build_deps(settings_for(url(tmp_path / "i.db")), start_background_tasks=False,
                          migrate_in_child=False) as deps:
        async with deps.db() as session:
            assert (await session.execute(text("select count(*) from bot_state"))).scalar() == 0


async def test_a_failed_migration_stops_start_up_with_one_clear_line(tmp_path, caplog):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(migrate.MigrationError) as failure:
        await migrate.upgrade_in_child(url(broken))
    assert "DatabaseError" in str(failure.value) and "\n" not in str(failure.value)

    caplog.set_level(logging.INFO)
    assert await run_bot(settings_for(url(broken))) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage().startswith("database migration failed, not starting: DatabaseError")
    assert "Traceback" not in errors[0].getMessage()
