"""A tiny clock seam so tests can move time (nudges, nonces, cooldowns) without sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock(Clock):
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    async def sleep(self, seconds: float) -> None:
        """A wait on the test clock passes at once and moves the clock on."""
        self.advance(seconds=max(0.0, seconds))
        await asyncio.sleep(0)


def utcnow() -> datetime:
    return datetime.now(UTC)
