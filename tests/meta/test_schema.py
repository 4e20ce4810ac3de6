"""Alembic migrations, run on an empty file, produce exactly the schema the models describe."""

from __future__ import annotations

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.db import migrate
from bot.db.engine import create_engine
from bot.db.models import Base
from tests.dburl import database_url


async def upgrade_and_diff(url: str) -> tuple[list, set[str]]:
    """Migrate an empty database twice; the differences from the models, and the tables."""
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)  # idempotent: a restart on a migrated database changes nothing

        def diff(connection):
            ctx = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata), set(inspect(connection).get_table_names())

        async with engine.connect() as conn:
            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


async def test_upgrade_head_on_an_empty_database_matches_models(tmp_path):
    """On SQLite by default; on PostgreSQL with ECO_TEST_DATABASE=postgres (.ci/run runs both)."""
    differences, tables = await upgrade_and_diff(database_url(tmp_path, "m"))
    assert differences == []
    assert {"bot_state", "transfer_requests", "transfer_events", "alembic_version"} <= tables


async def test_upgrade_head_on_empty_file_matches_models(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    try:
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)  # idempotent: a restart on a migrated file changes nothing

        def diff(connection):
            ctx = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)

        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert differences == []
    assert mode == "wal"
    assert fks == 1
    assert busy >= 5000
    tables = {r[0] for r in sqlite3.connect(tmp_path / "m.db").execute("select name from sqlite_master")}
    assert {"bot_state", "transfer_requests", "transfer_events"} <= tables
