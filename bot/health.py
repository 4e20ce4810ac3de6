"""`python -m bot health`: one line, and exit 0 when the running bot's heartbeat is fresh, 1 otherwise.

Only reads: it never creates the SQLite file or runs a migration, and gives up after HEALTH_TIMEOUT
seconds so a hung database makes the check fail rather than hang.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.db.engine import create_engine, create_session_factory, sqlite_path
from bot.services import heartbeat

HEALTH_TIMEOUT = 10.0


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


async def health(settings: Settings, max_age: float | None = None) -> int:
    limit = settings.database.heartbeat_max_age_seconds if max_age is None else max_age
    path = sqlite_path(settings.database.url)
    if path is not None and not path.exists():
        _out(f"unhealthy: no database at {path}")
        return 1
    engine = create_engine(settings.database.url)
    try:
        beat = await asyncio.wait_for(heartbeat.read(create_session_factory(engine)), HEALTH_TIMEOUT)
    except TimeoutError:
        _out(f"unhealthy: the database did not answer within {HEALTH_TIMEOUT:.0f} s")
        return 1
    except (SQLAlchemyError, OSError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        _out(f"unhealthy: cannot read the heartbeat: {type(exc).__name__}: {reason}")
        return 1
    finally:
        await engine.dispose()
    ok, line = heartbeat.verdict(beat, heartbeat.wall_now(), limit)
    _out(line)
    return 0 if ok else 1
