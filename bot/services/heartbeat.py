"""The running bot's heartbeat, and the verdict `python -m bot health` gives on it.

The bot writes one `bot_state` row every `database.heartbeat_seconds` with the wall-clock time (not
the bot's injectable clock: this is about whether the process is alive) and its pid; a clean stop
marks it stopped. `health` reads it from outside the process, so it works the same for SQLite on a
volume and for PostgreSQL, and needs no port or file beside the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models.core import BotState

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "heartbeat"


@dataclass(frozen=True)
class Heartbeat:
    at: datetime
    pid: int | None
    stopped: bool


def wall_now() -> datetime:
    return datetime.now(UTC)


async def beat(db: async_sessionmaker[AsyncSession], *, stopped: bool = False, now: datetime | None = None) -> None:
    at = now or wall_now()
    value = json.dumps({"at": at.isoformat(), "pid": os.getpid(), "stopped": stopped})
    async with db() as session:
        row = await session.get(BotState, HEARTBEAT_KEY)
        if row is None:
            session.add(BotState(key=HEARTBEAT_KEY, value=value))
        else:
            row.value = value
        await session.commit()


async def run(db: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Beat now and then every `interval` seconds; a failed write is logged and retried next time."""
    while True:
        try:
            await beat(db)
        except Exception:  # noqa: BLE001 - a locked or unreachable database must not end the loop
            log.warning("could not write the heartbeat", exc_info=True)
        await asyncio.sleep(interval)


def parse(value: str) -> Heartbeat | None:
    try:
        raw = json.loads(value)
        at = datetime.fromisoformat(raw["at"])
    except (ValueError, KeyError, TypeError):
        return None
    if at.tzinfo is None:
        return None
    pid = raw.get("pid")
    return Heartbeat(at=at, pid=pid if isinstance(pid, int) else None, stopped=raw.get("stopped") is True)


async def read(db: async_sessionmaker[AsyncSession]) -> Heartbeat | None:
    async with db() as session:
        row = await session.get(BotState, HEARTBEAT_KEY)
    return None if row is None else parse(row.value)


def verdict(heartbeat: Heartbeat | None, now: datetime, max_age: float) -> tuple[bool, str]:
    """(healthy, the one line to print)."""
    if heartbeat is None:
        return False, "unhealthy: no heartbeat in the database (the bot has not run, or not since the upgrade)"
    age = (now - heartbeat.at).total_seconds()
    who = f" (pid {heartbeat.pid})" if heartbeat.pid else ""
    if heartbeat.stopped:
        return False, f"unhealthy: the bot stopped {age:.0f} s ago{who}"
    if age > max_age:
        return False, f"unhealthy: last heartbeat {age:.0f} s ago{who}, more than {max_age:.0f} s"
    return True, f"ok: heartbeat {max(age, 0):.0f} s ago{who}"
