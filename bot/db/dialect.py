"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

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
