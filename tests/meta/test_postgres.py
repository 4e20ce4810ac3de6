"""PostgreSQL as the bot's database: the URL is accepted, and several processes migrating one fresh
PostgreSQL database at once all succeed (an advisory lock serialises them, as the file lock does for
SQLite). These always run on the embedded server from the test extra, whatever ECO_TEST_DATABASE says."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, text

from bot.config import ConfigError, parse_settings
from bot.db import migrate
from bot.db.engine import create_engine
from tests.dburl import postgres_url
from tests.meta.test_migrate_concurrency import PROCESSES, cli_upgrade

BASE = {"discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]}}


def test_the_config_takes_a_postgresql_url_and_names_both_schemes_otherwise():
    url = "postgresql+asyncpg://eco@db.example:5432/eco"
    assert parse_settings({**BASE, "database": {"url": url}}, {"DISCORD_TOKEN": "x"}).database.url == url
    with pytest.raises(ConfigError, match="sqlite\\+aiosqlite:// or postgresql\\+asyncpg://"):
        parse_settings({**BASE, "database": {"url": "mysql://eco@db/eco"}}, {"DISCORD_TOKEN": "x"})


async def state(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            versions = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        return tables, versions
    finally:
        await engine.dispose()


async def test_many_processes_migrating_a_fresh_postgresql_database_at_once_all_succeed(tmp_path):
    for attempt in range(2):  # the race needs overlap: two fresh databases make it near-certain
        url = postgres_url(f"race{attempt}")
        config = tmp_path / f"race{attempt}.toml"
        config.write_text(
            "[discord]\nguild_id = 1\neco_channel_id = 2\nreview_channel_id = 3\nmaintainer_role_ids = [4]\n"
            f'[database]\nurl = "{url}"\n'
        )
        children = [migrate.upgrade_in_child(url) for _ in range(PROCESSES // 2)]
        clis = [cli_upgrade(config) for _ in range(PROCESSES - PROCESSES // 2)]
        results = await asyncio.gather(*children, *clis, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        failures += [text for r in results if isinstance(r, tuple) and r[0] != 0 for text in [r[1]]]
        assert failures == [], failures
        tables, versions = await state(url)
        assert versions == migrate.head_revisions()
        assert {"bot_state", "transfer_requests", "alembic_version"} <= tables


async def test_an_upgrade_waits_for_the_advisory_lock_and_a_lock_held_too_long_is_one_line():
    url = postgres_url("held")
    engine, other = create_engine(url), create_engine(url)
    try:
        async with migrate.migration_lock(engine):
            child = asyncio.create_task(migrate.upgrade_in_child(url))
            await asyncio.sleep(3)  # ample for the child to start and reach the lock
            assert not child.done()  # it waits: it neither fails nor migrates under our feet
            with pytest.raises(migrate.MigrationError) as failure:
                async with migrate.migration_lock(other, timeout=0.2):
                    pass
            assert "another process held the migration lock" in str(failure.value)
            assert "\n" not in str(failure.value)
        await asyncio.wait_for(child, 60)  # released: the child migrates
        assert (await state(url))[1] == migrate.head_revisions()
    finally:
        await engine.dispose()
        await other.dispose()


async def test_text_with_a_nul_character_is_saved_without_it_on_postgresql():
    """PostgreSQL refuses U+0000 in text ("invalid byte sequence for encoding UTF8: 0x00"); SQLite keeps it.
    A form field or a GitHub title carrying one must be saved, not turn the action into an internal error."""
    from bot.db.engine import create_session_factory
    from bot.db.models.core import BotState

    url = postgres_url("nul")
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with create_session_factory(engine)() as session:
            session.add(BotState(key="k\x00ey", value="a\x00b"))
            await session.commit()
        async with create_session_factory(engine)() as session:
            row = await session.get(BotState, "key")
        assert row is not None and row.value == "ab"
    finally:
        await engine.dispose()
