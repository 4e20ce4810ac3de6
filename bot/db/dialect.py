"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert(session: AsyncSession, table: Any) -> sqlite.Insert | postgresql.Insert:
    """An INSERT with `on_conflict_do_nothing`/`on_conflict_do_update` for the session's database.

    Both dialects spell "ON CONFLICT" the same way and SQLAlchemy gives them the same methods, but
    each statement class only compiles for its own dialect.
    """
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def serialize(session: AsyncSession, key: int) -> None:
    """Make this transaction the only one holding `key` until it ends.

    SQLite already runs one writer at a time; PostgreSQL's READ COMMITTED lets two transactions
    each miss the other's insert (a "keep the newest N" prune then keeps more than N), so there a
    transaction-scoped advisory lock serialises them.
    """
    if dialect_name(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
